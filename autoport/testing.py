"""Synthetic cases shared by tests and benchmarks: a crash between two calm bull markets, and a
decision loop driven by the fast engine. Kept in the package (not in a test file) so tests and
experiments import it the same way; it uses only the core (synthetic generator, simulator)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from autoport import synthetic
from autoport.engines import simulator
from autoport.engines.costs import CostModel
from autoport.engines.orders import OrderSizing


def _segment(model, days, seed, start_level=None):
    prices, _ = synthetic.regime_switching_prices(days, model, seed=seed)
    if start_level is not None:
        prices = prices / prices.iloc[0] * start_level
    return prices


def crash_prices(seed: int = 0) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    """Calm bull, a 60-session crash, calm bull again (autoport.synthetic, one regime each)."""
    base = synthetic.default_model(5)
    stay = np.eye(3)
    bull = synthetic.RegimeModel(base.means, base.vols, base.correlations, stay)
    crash_means = np.vstack([np.full(5, -0.004), base.means[0], base.means[2]])
    crash_vols = np.vstack([np.full(5, 0.03), base.vols[0], base.vols[2]])
    crash = synthetic.RegimeModel(crash_means, crash_vols, base.correlations[[1, 0, 2]], stay,
                                  names=("bear", "bull", "sideways"))
    a = _segment(bull, 500, seed)
    b = _segment(crash, 60, seed + 1, a.iloc[-1])
    c = _segment(bull, 400, seed + 2, b.iloc[-1])
    levels = pd.concat([a, b.iloc[1:], c.iloc[1:]]).to_numpy()
    index = pd.bdate_range("2001-01-02", periods=len(levels), name="date")
    prices = pd.DataFrame(levels, index=index, columns=a.columns)
    return prices, index[500], index[560]


# the account the autopilot's tests run on: 10 million, default costs, whole shares, no order
# under 5,000 (the engine's order sizing)
ACCOUNT = {"capital": 1e7, "costs": CostModel(),
           "sizing": OrderSizing(lot_size=1, min_trade_value=5_000.0)}


def run_loop(strategy, prices, every=5, first=None):
    """Decisions every ``every`` sessions from row ``first`` (default: the first the strategy
    can take), driven by the fast engine, which hands the strategy its book."""
    first = strategy.min_history if first is None else first
    dates = prices.index[first::every]
    return simulator.run(strategy, prices, dates=dates, **ACCOUNT).decisions


SYNTH = {"window": 126, "regime": {"enabled": False}, "max_position": 0.4, "max_sector": None,
         "var_limit": -0.02, "calendar": "monthly"}


# A DQN agent config small enough to train in seconds on a ~900-session synthetic panel from
# 1999-06 (train to 2001, validate and test in 2002): tests override seed and net_arch.
TINY_AGENT = {
    "timesteps": 600,
    "env": {"estimation_window": 60, "momentum_window": 40, "lookback": 10, "vol_window": 10,
            "rebalance_every": 5, "episode_length": 40, "schedule": "every_k"},
    "dqn": {"net_arch": [16, 16], "learning_starts": 100, "target_update_interval": 100,
            "batch_size": 32},
    "protocol": {"train_end": "2001-12-31", "validation_start": "2002-01-01",
                 "validation_end": "2002-06-30", "test_start": "2002-07-01",
                 "episode_sessions": 20, "max_drawdown_limit": 0.10},
    "validation": {"eval_freq": 200, "patience": 2, "min_evals": 2},
}



def wait_for_http(proc, url: str, log_path, *, timeout: float = 180.0, what: str = "server") -> None:
    """Wait until ``url`` answers 200 while ``proc`` (a server started by a test) runs.

    Raises AssertionError with the server's log if it exits first, or after ``timeout``
    seconds (generous: a loaded 2-core CI machine starts an MLflow server in tens of seconds).
    """
    import time
    import urllib.request
    from pathlib import Path

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited: {Path(log_path).read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not answer {url} in {timeout:.0f} s")
        time.sleep(0.5)


def save_pyfolio_tear_sheet(returns: pd.Series, bench: pd.Series, path, baseline: pd.Series,
                            ) -> None:
    """The tear sheet as ``save_tear_sheet`` drew it before its layout shortcuts: pyfolio's own
    path (only the rolling beta vectorised, tested against pyfolio's loop elsewhere) and
    savefig's own tight box. The reference the pixel test and the tear-sheet bench compare with.

    Parameters
    ----------
    returns
        The strategy's daily returns (named "mpt" on the sheet).
    bench
        The benchmark's daily returns (pyfolio's ``benchmark_rets``).
    path
        Where the PNG goes.
    baseline
        The 1/N daily returns drawn beside the strategy.
    """
    import contextlib
    import io
    import warnings

    import matplotlib.pyplot as plt
    import pyfolio as pf

    from autoport.reporting import backtest

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            backtest._vectorised_rolling_beta():
        warnings.simplefilter("ignore")
        fig = pf.create_returns_tear_sheet(returns, benchmark_rets=bench, return_fig=True)
    backtest._tidy_tear_sheet(fig, returns, "mpt", baseline, "1/N")
    fig.savefig(path, dpi=backtest.TEAR_SHEET_DPI, bbox_inches="tight")
    plt.close(fig)
