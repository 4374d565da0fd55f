"""The strategy contract: what a strategy returns and what an engine asks of it.

It lives in the core because the engines (zipline, the simulator, the Gymnasium env) drive
strategies through it; the strategies themselves live above the core (``autoport.strategies``)
and the core never imports them: whoever runs a backtest hands the strategy in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from autoport.errors import OptimizationError


@dataclass(frozen=True)
class Decision:
    """Target weights (ticker → weight, long-only, summing to at most 1; the rest is held as
    cash) and why they were chosen."""

    date: pd.Timestamp
    weights: pd.Series
    reason: str
    details: dict = field(default_factory=dict)


class Strategy(Protocol):
    """``decide`` sees closes up to and including ``history.index[-1]`` and nothing later."""

    name: str
    min_history: int

    def decide(self, history: pd.DataFrame) -> Decision: ...


def check_weights(weights: pd.Series, tol: float = 1e-6) -> pd.Series:
    """Clip solver dust, renormalise, and refuse anything that is not a long-only budget."""
    w = weights.astype(float).where(weights.abs() > 1e-10, 0.0)
    if not np.isfinite(w).all():
        raise OptimizationError("strategy produced non-finite weights")
    if (w < -tol).any() or abs(w.sum() - 1.0) > 1e-4:
        raise OptimizationError(
            f"strategy weights must be long-only and sum to 1; got sum {w.sum():.6f}, "
            f"min {w.min():.6f}"
        )
    w = w.clip(lower=0.0)
    return w / w.sum()


def decide_schedule(
    strategy: Strategy, prices: pd.DataFrame, dates: pd.DatetimeIndex
) -> pd.DataFrame:
    """Run ``strategy`` at each date on the history up to that date; one row of weights each.

    This is the loop both engines follow; handing over ``prices.loc[:date]`` is what makes a
    decision unable to use later data.
    """
    rows = {}
    for date in dates:
        history = prices.loc[:date]
        if len(history) < strategy.min_history:
            continue
        rows[date] = strategy.decide(history).weights
    return pd.DataFrame.from_dict(rows, orient="index", columns=prices.columns)
