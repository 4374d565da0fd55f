"""The backtest's Markowitz step: estimates on a window, then one PyPortfolioOpt objective.

Max Sharpe is undefined when no asset is expected to beat the risk-free rate (PyPortfolioOpt
#427, #88). A strategy then holds the minimum-variance portfolio and says so in ``note``; the
caller records that note with the decision, so the switch is never silent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pypfopt import EfficientFrontier, expected_returns, risk_models

from autoport.errors import ConfigError, InfeasibleError

OBJECTIVES = ("max_sharpe", "min_volatility")


@dataclass(frozen=True)
class Solution:
    weights: pd.Series
    expected_return: float
    volatility: float
    note: str = ""


def solve(
    prices: pd.DataFrame,
    *,
    objective: str = "max_sharpe",
    max_weight: float = 1.0,
    risk_free_rate: float = 0.0,
) -> Solution:
    """Long-only weights for ``objective`` on annualised (252) CAGR means and Ledoit-Wolf Σ."""
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    n = prices.shape[1]
    if max_weight * n < 1.0 - 1e-12:
        raise InfeasibleError(
            f"max_weight {max_weight} times {n} assets is below 1: the weights cannot sum to 1; "
            f"raise max_weight to at least {1.0 / n:.4f}"
        )
    mu = expected_returns.mean_historical_return(prices, frequency=252)
    cov = risk_models.CovarianceShrinkage(prices, frequency=252).ledoit_wolf()
    note = ""
    if objective == "max_sharpe" and _best_excess_return(mu - risk_free_rate, max_weight) <= 0:
        objective = "min_volatility"
        note = (
            f"no portfolio within the bounds is expected to beat the risk-free rate "
            f"{risk_free_rate:.2%}: max Sharpe is undefined, held min variance instead"
        )
    frontier = EfficientFrontier(mu, cov, weight_bounds=(0.0, max_weight), solver="CLARABEL")
    try:
        if objective == "max_sharpe":
            frontier.max_sharpe(risk_free_rate=risk_free_rate)
        else:
            frontier.min_volatility()
    except Exception as exc:  # pypfopt raises OptimizationError/ValueError/SolverError
        raise InfeasibleError(
            f"{objective} failed on the window ending {prices.index[-1].date()}: {exc}"
        ) from exc
    weights = pd.Series(frontier.clean_weights(cutoff=1e-8, rounding=None)).reindex(prices.columns)
    w = weights.to_numpy()
    return Solution(
        weights,
        float(w @ mu.to_numpy()),
        float(np.sqrt(w @ cov.to_numpy() @ w)),
        note,
    )


def _best_excess_return(excess: pd.Series, max_weight: float) -> float:
    """Highest excess return any long-only, capped, fully invested portfolio can have.

    Greedy is exact for a linear objective over a capped simplex: fill the best assets first.
    """
    budget, best = 1.0, 0.0
    for value in np.sort(excess.to_numpy())[::-1]:
        take = min(max_weight, budget)
        best += take * value
        budget -= take
        if budget <= 1e-12:
            break
    return best
