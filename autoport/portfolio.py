"""The backtest's Markowitz step: estimates on a window, then one objective of the optimizer.

Max Sharpe is undefined when no asset is expected to beat the risk-free rate (PyPortfolioOpt
#427, #88). A strategy then holds the minimum-variance portfolio and says so in ``note``; the
caller records that note with the decision, so the switch is never silent.

Estimates: annualised (252) CAGR means and Ledoit-Wolf Σ, as PyPortfolioOpt computes them;
the solve goes through :func:`autoport.optimize.optimize`, so any objective and any
:class:`~autoport.optimize.Constraints` can be asked for (the defaults reproduce the original
long-only, ``max_weight``-capped problem).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoport import estimators
from autoport.errors import ConfigError, InfeasibleError, OptimizationError
from autoport.optimize import Constraints, Objective, optimize

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
    constraints: Constraints | None = None,
    **objective_params,
) -> Solution:
    """Weights for ``objective`` on the window (long-only, each weight ≤ ``max_weight``).

    ``objective`` is ``max_sharpe``, ``min_volatility`` or any name of
    :class:`autoport.optimize.Objective`; ``constraints`` replaces the default long-only box;
    ``objective_params`` go to :func:`autoport.optimize.optimize` (``target_return``, ...).
    Scenario objectives (CVaR, CDaR) get the window's daily returns.
    """
    try:
        obj = Objective.parse(objective)
    except ConfigError:
        raise ConfigError(
            f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)} "
            f"or {', '.join(o.value for o in Objective)}"
        ) from None
    n = prices.shape[1]
    if constraints is None:
        if max_weight * n < 1.0 - 1e-12:
            raise InfeasibleError(
                f"max_weight {max_weight} times {n} assets is below 1: the weights cannot sum "
                f"to 1; raise max_weight to at least {1.0 / n:.4f}"
            )
        constraints = Constraints(upper=max_weight)
    mu = estimators.mean_return(prices)
    cov = estimators.ledoit_wolf_cov(prices)
    needs_path = obj in (Objective.MIN_CVAR, Objective.MEAN_CVAR, Objective.MIN_CDAR) or (
        objective_params.get("max_drawdown") is not None
        or obj == Objective.MULTI_OBJECTIVE
    )
    scenarios = prices.pct_change().iloc[1:] if needs_path else None
    try:
        result = optimize(
            mu, cov, obj, constraints, risk_free_rate=risk_free_rate, scenarios=scenarios,
            fallback_to_min_variance=True, **objective_params,
        )
    except (InfeasibleError, ConfigError):
        raise
    except OptimizationError as exc:
        raise InfeasibleError(
            f"{obj.value} failed on the window ending {prices.index[-1].date()}: {exc}"
        ) from exc
    note = "; ".join(n for n in result.notes if n.startswith("max Sharpe is undefined"))
    if note:
        note = (
            f"no portfolio within the bounds is expected to beat the risk-free rate "
            f"{risk_free_rate:.2%}: max Sharpe is undefined, held min variance instead"
        )
    weights = result.weights.reindex(prices.columns)
    weights = weights.where(weights.abs() > 1e-8, 0.0)
    w = weights.to_numpy()
    return Solution(
        weights,
        float(w @ mu.to_numpy()),
        float(np.sqrt(w @ cov.to_numpy() @ w)),
        note,
    )
