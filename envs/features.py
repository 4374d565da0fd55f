"""Observation and action menu from the prices up to a decision, shared by env and strategy.

Both functions take the history ending at the decision close and nothing later; the env and
:mod:`autoport.strategies.dqn` call the same code, so a trained policy sees the same numbers in
a zipline backtest as in training.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autoport import portfolio
from autoport.envs.config import EnvConfig
from autoport.errors import DataError, OptimizationError
from autoport.strategies.base import check_weights

OBS_CLIP = 10.0
RETURN_SCALE = 50.0  # daily log returns of ~2% become ~1


def obs_size(n_assets: int, config: EnvConfig) -> int:
    return n_assets * (config.lookback + 2 + len(config.actions)) + 1


def menu_offset(n_assets: int, config: EnvConfig) -> int:
    """Where the menu block (n_actions x n_assets weights) starts in the observation."""
    return n_assets * (config.lookback + 2) + 1


def _inverse_vol(returns: np.ndarray) -> np.ndarray:
    vol = returns.std(axis=0, ddof=1)
    inv = 1.0 / np.maximum(vol, 1e-8)
    return inv / inv.sum()


def _tilt(score: np.ndarray, strength: float = 0.5) -> np.ndarray:
    """1/N tilted toward high scores by rank: weights from (1-s)/N to (1+s)/N."""
    n = len(score)
    ranks = score.argsort().argsort() / max(n - 1, 1)  # 0 (lowest) .. 1 (highest)
    w = 1.0 + strength * (2.0 * ranks - 1.0)
    return w / w.sum()


def _optimised(window: pd.DataFrame, objective: str, max_weight: float) -> np.ndarray:
    try:
        solution = portfolio.solve(window, objective=objective, max_weight=max_weight)
        return check_weights(solution.weights).to_numpy()
    except OptimizationError:
        # the menu must always offer every item; an unsolvable window holds 1/N and says so
        # through the equal weights themselves (rare: solvers fail on degenerate windows)
        return np.full(window.shape[1], 1.0 / window.shape[1])


def menu_weights(history: pd.DataFrame, config: EnvConfig) -> np.ndarray:
    """Long-only asset weights for each menu item, (n_actions, n_assets); cash is the rest.

    Every row sums to 1 except ``defensive``, which holds ``defensive_cash`` in cash (0%).

    ``history`` ends at the decision close; only its last ``estimation_window + 1`` rows are read.
    """
    if len(history) < config.history_needed:
        raise DataError(
            f"the menu needs {config.history_needed} sessions up to the decision, got "
            f"{len(history)}; start later or shorten estimation_window"
        )
    window = history.iloc[-(config.estimation_window + 1):]
    values = history.to_numpy()
    n = history.shape[1]
    cap = max(config.max_weight, 1.0 / n)
    daily = np.diff(np.log(values[-(config.vol_window + 1):]), axis=0)
    rows = []
    min_var = None
    for name in config.actions:
        if name == "equal_weight":
            w = np.full(n, 1.0 / n)
        elif name in ("min_variance", "defensive"):
            if min_var is None:
                min_var = _optimised(window, "min_variance", cap)
            w = min_var
        elif name == "max_sharpe":
            w = _optimised(window, "max_sharpe", cap)
        elif name == "risk_parity":
            w = _optimised(window, "risk_parity", 1.0)
        elif name == "inverse_vol":
            w = _inverse_vol(daily)
        elif name == "momentum_tilt":
            w = _tilt(values[-1] / values[-(config.momentum_window + 1)])
        elif name == "low_vol_tilt":
            w = _tilt(-daily.std(axis=0, ddof=1))
        else:  # guarded by EnvConfig
            raise DataError(f"unknown menu item {name!r}")
        rows.append(w)
    menu = np.clip(np.vstack(rows), 0.0, None)
    menu = menu / menu.sum(axis=1, keepdims=True)
    for i, name in enumerate(config.actions):
        if name == "defensive":
            menu[i] *= 1.0 - config.defensive_cash
    return menu


def log_returns(recent_prices: np.ndarray, config: EnvConfig) -> np.ndarray:
    """Daily log returns the observation reads: the last ``max(lookback, vol_window)`` rows."""
    need = max(config.lookback, config.vol_window) + 1
    if len(recent_prices) < need:
        raise DataError(f"the observation needs {need} closes, got {len(recent_prices)}")
    return np.diff(np.log(recent_prices[-need:]), axis=0)


def observation(
    rets: np.ndarray,
    weights: np.ndarray,
    drawdown: float,
    menu: np.ndarray,
    config: EnvConfig,
) -> np.ndarray:
    """Flat float32 observation at a decision close.

    ``rets`` are the daily log returns ending at the decision close (see :func:`log_returns`).
    Layout: scaled log returns of the last ``lookback`` sessions (asset-major), annualised
    rolling volatility, current value weights of the book, drawdown from the episode's peak
    (a positive fraction), then the menu weights.
    """
    window = rets[-config.lookback:].T.ravel() * RETURN_SCALE
    recent = rets[-config.vol_window:]
    centred = recent - recent.mean(axis=0)
    vol = np.sqrt((centred * centred).sum(axis=0) / (len(recent) - 1) * 252.0)
    obs = np.concatenate([window, vol, weights, [drawdown], menu.ravel()])
    return np.clip(obs, -OBS_CLIP, OBS_CLIP).astype(np.float32)
