"""Value at Risk and Expected Shortfall: one entry point over the estimators.

The estimators live by kind: closed forms in :mod:`autoport.risk.var_parametric`, the tail
rules on scenario sets in :mod:`autoport.risk.var_scenarios`, historical simulation in
:mod:`autoport.risk.var_historical`, Monte Carlo in :mod:`autoport.risk.var_montecarlo`, and
what they share (method names, choices, the result, input checks) in
:mod:`autoport.risk.var_common`. This module dispatches a method name to its estimator and
re-exports their public names, so ``from autoport.risk.var import ...`` keeps working.

How a multi-day horizon is obtained, per method:

- parametric: the one-day distribution's cumulants are aggregated as for a sum of ``h`` iid
  days (mean ``h mu``, volatility ``sqrt(h) sigma``; Cornish-Fisher skewness ``/sqrt(h)`` and
  excess kurtosis ``/h``). For Student-t this is the usual square-root-of-time approximation;
- historical: overlapping ``h``-day windows of the history, each compounded asset by asset and
  valued with the weights at the window's start (buy and hold);
- Monte Carlo: ``h`` daily draws per path, compounded asset by asset along the simulated path,
  never a square-root-of-time rescaling.
"""

from __future__ import annotations

import numpy as np

from autoport.errors import ConfigError
from autoport.risk.var_common import (
    HORIZON_RULES,
    MONTE_CARLO_DISTRIBUTIONS,
    PARAMETRIC_DISTRIBUTIONS,
    SAMPLERS,
    ArrayLike,
    Distribution,
    Sampler,
    VaRMethod,
    VaRResult,
    as_returns,
    as_weights,
    check_confidence,
    check_horizon,
    choice,
)
from autoport.risk.var_historical import historical_var
from autoport.risk.var_montecarlo import (
    MarketModel,
    empirical_quantiles,
    fit_market_model,
    matrix_root,
    monte_carlo_var,
    simulate_asset_returns,
    standard_normals,
)
from autoport.risk.var_parametric import (
    cornish_fisher_monotone,
    cornish_fisher_valid,
    cornish_fisher_quantile,
    cornish_fisher_var_es,
    fit_student_t_dof,
    normal_var_es,
    parametric_var,
    student_t_var_es,
)
from autoport.risk.var_scenarios import (
    horizon_asset_returns,
    scenario_var_es,
    tail_count,
    weighted_var_es,
)

__all__ = [
    "HORIZON_RULES", "METHOD_FAMILIES", "MONTE_CARLO_DISTRIBUTIONS", "PARAMETRIC_DISTRIBUTIONS",
    "SAMPLERS", "ArrayLike", "Distribution", "MarketModel", "Sampler", "VaRMethod", "VaRResult",
    "as_returns", "as_weights", "check_confidence", "check_horizon", "compute_var",
    "cornish_fisher_monotone", "cornish_fisher_quantile", "cornish_fisher_valid", "cornish_fisher_var_es",
    "empirical_quantiles", "fit_market_model", "fit_student_t_dof", "historical_var",
    "horizon_asset_returns", "matrix_root", "methods_for", "monte_carlo_var", "normal_var_es",
    "parametric_var", "scenario_var_es", "simulate_asset_returns", "standard_normals",
    "student_t_var_es", "tail_count", "value_at_risk", "weighted_var_es",
]


METHOD_FAMILIES: dict[str, tuple[VaRMethod, ...]] = {
    "parametric": (
        VaRMethod.PARAMETRIC,
        VaRMethod.PARAMETRIC_STUDENT_T,
        VaRMethod.PARAMETRIC_CORNISH_FISHER,
    ),
    "historical": (VaRMethod.HISTORICAL, VaRMethod.HISTORICAL_AGE_WEIGHTED),
    "monte_carlo": (
        VaRMethod.MONTE_CARLO,
        VaRMethod.MONTE_CARLO_STUDENT_T,
        VaRMethod.MONTE_CARLO_COPULA,
    ),
}
METHOD_FAMILIES["all"] = tuple(m for fam in list(METHOD_FAMILIES.values()) for m in fam)


# --------------------------------------------------------------------------------------------
# one entry point


def compute_var(
    method: str | VaRMethod,
    returns: ArrayLike,
    weights: ArrayLike,
    *,
    confidence: float = 0.95,
    horizon: int = 1,
    n_paths: int = 100_000,
    seed: int = 0,
    sampler: Sampler | str = Sampler.ANTITHETIC,
    decay: float = 0.99,
    keep_scenarios: bool = False,
) -> VaRResult:
    """Dispatch a :class:`VaRMethod` name to its estimator.

    Parameters
    ----------
    method
        A :class:`VaRMethod` or its name.
    returns
        Daily simple returns of the assets, shape (T, N).
    weights
        Portfolio weights per asset, shape (N,): fractions of the value (long-only: sum to 1).
    confidence
        Probability of doing better than VaR, in (0.5, 1): 0.95 or 0.99.
    horizon
        Days the loss is measured over (1, 5, 10).
    n_paths
        Simulated paths (Monte Carlo methods).
    seed
        Seed of the simulation (Monte Carlo methods).
    sampler
        ``antithetic``, ``plain`` or ``sobol`` draws (Monte Carlo methods).
    decay
        Age weight λ per day (age-weighted historical).
    keep_scenarios
        Keep the portfolio return of every scenario in the result.
    """
    m = choice(VaRMethod, method, "VaR method")
    common = {"confidence": confidence, "horizon": horizon}
    if m is VaRMethod.PARAMETRIC:
        return parametric_var(returns, weights, distribution=Distribution.NORMAL, **common)
    if m is VaRMethod.PARAMETRIC_STUDENT_T:
        return parametric_var(returns, weights, distribution=Distribution.STUDENT_T, **common)
    if m is VaRMethod.PARAMETRIC_CORNISH_FISHER:
        return parametric_var(returns, weights, distribution=Distribution.CORNISH_FISHER,
                              **common)
    if m is VaRMethod.HISTORICAL:
        return historical_var(returns, weights, **common)
    if m is VaRMethod.HISTORICAL_AGE_WEIGHTED:
        return historical_var(returns, weights, decay=decay, **common)
    dist = {
        VaRMethod.MONTE_CARLO: Distribution.NORMAL,
        VaRMethod.MONTE_CARLO_STUDENT_T: Distribution.STUDENT_T,
        VaRMethod.MONTE_CARLO_COPULA: Distribution.COPULA,
    }[m]
    return monte_carlo_var(
        returns,
        weights,
        distribution=dist,
        n_paths=n_paths,
        seed=seed,
        sampler=sampler,
        keep_scenarios=keep_scenarios,
        **common,
    )


def value_at_risk(
    returns: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    method: str | VaRMethod = VaRMethod.HISTORICAL,
    confidence: float = 0.95,
    horizon: int = 1,
    **options,
) -> VaRResult:
    """The short form: VaR/ES of a return series, or of a weighted table of asset returns.

    A 1-D ``returns`` is one portfolio's daily returns; a 2-D table without ``weights`` is held
    in equal weights. ``options`` go to :func:`compute_var` (``n_paths``, ``seed``, ...).

    Parameters
    ----------
    returns
        Daily simple returns: one portfolio's, shape (T,), or the assets', shape (T, N).
    weights
        Weights per asset, shape (N,), for a 2-D ``returns``; None: equal weights.
    method
        A :class:`VaRMethod` or its name.
    confidence
        Probability of doing better than VaR, in (0.5, 1): 0.95 or 0.99.
    horizon
        Days the loss is measured over (1, 5, 10).
    **options
        Passed to :func:`compute_var` (``n_paths``, ``seed``, ``sampler``, ``decay``).
    """
    x = np.asarray(returns, dtype=float)
    if weights is None:
        n = 1 if x.ndim == 1 else x.shape[1]
        weights = np.full(n, 1.0 / n)
    return compute_var(method, returns, weights, confidence=confidence, horizon=horizon, **options)


def methods_for(family: str) -> tuple[VaRMethod, ...]:
    """The methods a family name stands for (``parametric``, ``historical``, ``monte_carlo``,
    ``all``) or the one method it names; else one ``ConfigError`` naming both kinds.

    Parameters
    ----------
    family
        ``parametric``, ``historical``, ``monte_carlo``, ``all``, or one method's name.
    """
    try:
        return METHOD_FAMILIES[family]
    except KeyError:
        try:
            return (VaRMethod(family),)
        except ValueError:
            choices = dict.fromkeys([*METHOD_FAMILIES, *(v.value for v in VaRMethod)])
            raise ConfigError(
                f"unknown VaR method {family!r}; choose one of {', '.join(choices)}"
            ) from None
