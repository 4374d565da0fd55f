"""A small market for the monitor tests: history CSV, an equal-weight book, a feed writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

TICKERS = ["AAA", "BBB", "CCC", "DDD"]


def history_prices(n_bars: int = 90, vol: float = 0.02, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0, vol, size=(n_bars - 1, len(TICKERS)))
    p = 100.0 * np.vstack([np.ones(len(TICKERS)), np.cumprod(1.0 + r, axis=0)])
    idx = pd.bdate_range("2024-01-01", periods=n_bars)
    return pd.DataFrame(p, index=idx, columns=TICKERS)


@pytest.fixture()
def market(tmp_path: Path) -> dict:
    """``hist`` (CSV path), ``weights`` (JSON path), ``prices`` (frame), ``next_day``."""
    prices = history_prices()
    hist = tmp_path / "hist.csv"
    prices.to_csv(hist, index_label="date")
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps({t: 0.25 for t in TICKERS}))
    return {"hist": hist, "weights": weights, "prices": prices,
            "next_day": pd.bdate_range(prices.index[-1], periods=2)[-1]}


def _feed_lines(prices: pd.DataFrame, start: pd.Timestamp, moves: list[float]) -> list[str]:
    last = prices.iloc[-1].to_numpy()
    days = pd.bdate_range(start, periods=len(moves))
    out = []
    for day, m in zip(days, moves, strict=True):
        last = last * (1.0 + m)
        out.append(f"{day.date()}," + ",".join(f"{p:.10g}" for p in last))
    return out


@pytest.fixture()
def feed_lines():
    """``f(prices, start, moves)``: one CSV line per move, every asset moving by the same
    return (so the book's return is the move)."""
    return _feed_lines


@pytest.fixture()
def drawdown_rules(tmp_path: Path) -> Path:
    """Only the drawdown rule (limit -10%, re-arm at -5%), so each answer's alert is exact."""
    path = tmp_path / "alerts.yaml"
    path.write_text(
        "rules:\n  - name: drawdown_alert\n    metric: drawdown\n    limit: -0.10\n"
        "    rearm: -0.05\n    action: notify the risk committee\n"
    )
    return path
