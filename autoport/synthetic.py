"""Seeded synthetic prices with known ground truth, for tests and accuracy studies.

A hidden Markov chain picks a regime each day; returns are multivariate normal with the
regime's means, volatilities and correlation. The true labels come back with the prices so a
detector can be scored against them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoport.errors import DataError

REGIME_NAMES = ("bull", "bear", "sideways")


@dataclass(frozen=True)
class RegimeModel:
    """Daily parameters per regime: ``means`` and ``vols`` are (n_regimes, n_assets)."""

    means: np.ndarray
    vols: np.ndarray
    correlations: np.ndarray  # (n_regimes, n_assets, n_assets)
    transition: np.ndarray  # (n_regimes, n_regimes), rows sum to 1
    names: tuple[str, ...] = REGIME_NAMES

    def check(self) -> None:
        k, n = self.means.shape
        if self.vols.shape != (k, n) or self.correlations.shape != (k, n, n):
            raise DataError("regime model shapes disagree: means, vols and correlations")
        if self.transition.shape != (k, k) or not np.allclose(self.transition.sum(1), 1.0):
            raise DataError("transition matrix must be square with rows summing to 1")
        if len(self.names) != k:
            raise DataError(f"{k} regimes need {k} names, got {len(self.names)}")


def default_model(n_assets: int = 5) -> RegimeModel:
    """Three persistent regimes: calm bull, volatile bear, flat sideways (daily units).

    Parameters
    ----------
    n_assets
        Number of assets N.
    """
    ones = np.ones(n_assets)
    means = np.vstack([0.0010 * ones, -0.0015 * ones, 0.0000 * ones])
    vols = np.vstack([0.008 * ones, 0.025 * ones, 0.013 * ones])
    rho = np.array([0.3, 0.7, 0.4])
    corr = np.stack([np.full((n_assets, n_assets), r) + (1 - r) * np.eye(n_assets) for r in rho])
    transition = np.array(
        [[0.985, 0.005, 0.010], [0.015, 0.970, 0.015], [0.010, 0.005, 0.985]]
    )
    return RegimeModel(means, vols, corr, transition)


def regime_switching_prices(
    n_days: int,
    model: RegimeModel | None = None,
    *,
    seed: int = 0,
    start: str = "2000-01-03",
    tickers: list[str] | None = None,
    initial_price: float = 100.0,
) -> tuple[pd.DataFrame, pd.Series]:
    """Simulate ``n_days`` of prices; return (prices, true regime names) on business days.

    Parameters
    ----------
    n_days
        Daily returns to simulate; the prices have ``n_days + 1`` rows (business days).
    model
        Daily means, volatilities, correlations and transition matrix per regime; None:
        :func:`default_model` (5 assets).
    seed
        Seed of the Markov chain and the returns.
    start
        First date.
    tickers
        Column names, one per asset of ``model``; None: ``A0``, ``A1``, ...
    initial_price
        Every asset's price on the first day.
    """
    model = model or default_model()
    model.check()
    k, n = model.means.shape
    rng = np.random.default_rng(seed)
    states = np.empty(n_days, dtype=int)
    states[0] = 0
    for t in range(1, n_days):
        states[t] = rng.choice(k, p=model.transition[states[t - 1]])
    chol = np.stack(
        [np.linalg.cholesky(model.correlations[s]) * model.vols[s][:, None] for s in range(k)]
    )
    shocks = rng.standard_normal((n_days, n))
    returns = model.means[states] + np.einsum("tij,tj->ti", chol[states], shocks)
    index = pd.bdate_range(start, periods=n_days + 1, name="date")
    names = tickers or [f"A{i}" for i in range(n)]
    levels = initial_price * np.exp(np.vstack([np.zeros(n), np.cumsum(np.log1p(returns), 0)]))
    prices = pd.DataFrame(levels, index=index, columns=names)
    labels = pd.Series(np.asarray(model.names)[states], index=index[1:], name="regime")
    return prices, labels
