"""Risk measures: one registry giving each measure its cvxpy expression and its numpy value.

The optimizer minimises (or caps, or trades against return) a measure's cvxpy expression; the
optimizer's reports and the risk engine evaluate the same measure with its numpy function, so a
solved optimum and its reported risk are one number (the tests check it to 1e-6).

Units: ``cov`` annualised, ``scenarios`` a (T × n) array of *daily* simple returns; CVaR, CDaR
and max drawdown are per day / on the uncompounded daily path (as PyPortfolioOpt reports them).

The tail rule, one for the whole package: T scenarios, each of probability 1/T (or the given
probabilities), tail probability ``a = 1 − β``. VaR is the smallest return whose cumulative
probability reaches ``a`` (numpy's ``inverted_cdf`` quantile of the returns); ES is the
probability-weighted mean of the returns below it, plus the share of the VaR scenario that
completes mass ``a``. As a loss this is exactly the Rockafellar-Uryasev minimum
``min_α α + E[(L − α)⁺]/a`` that the CVaR linear programme optimises, so nothing is lost
between the LP and its evaluation. CDaR applies the same rule to the drawdown path.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


class RiskMeasure(enum.StrEnum):
    """Names of the risk measures (of a loss: larger is riskier)."""

    VARIANCE = "variance"
    CVAR = "cvar"
    CDAR = "cdar"
    MAX_DRAWDOWN = "max_drawdown"


# ---------------------------------------------------------------- numpy: portfolio returns


def tail_weights(returns: np.ndarray, a: float, prob: np.ndarray | None = None) -> np.ndarray:
    """Per-scenario tail weights (summing to ``a``) under the module's tail rule."""
    x = np.asarray(returns, dtype=float)
    p = np.full(x.size, 1.0 / x.size) if prob is None else np.asarray(prob, dtype=float)
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(p[order])
    k = min(int(np.searchsorted(cum, a - 1e-12)), x.size - 1)
    w_sorted = np.zeros(x.size)
    w_sorted[:k] = p[order][:k]
    w_sorted[k] = a - (cum[k - 1] if k > 0 else 0.0)
    out = np.empty(x.size)
    out[order] = w_sorted
    return out


def tail_size(n: int, a: float) -> int:
    """Scenarios with a positive tail weight among ``n`` equally likely ones: ``ceil(n a)``."""
    return max(1, min(n, int(np.ceil(n * a - 1e-9))))


def var_es(returns: np.ndarray, a: float) -> tuple[float, float]:
    """(VaR, ES) as *returns* (negative = loss) at tail probability ``a`` (equal weights)."""
    x = np.sort(np.asarray(returns, dtype=float))
    k = tail_size(x.size, a)
    var = float(x[k - 1])
    m = a * x.size
    es = float((x[: k - 1].sum() + (m - (k - 1)) * x[k - 1]) / m)
    return var, min(es, var)


def var_es_rows(windows: np.ndarray, a: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`var_es` of every row of ``windows`` at once (rolling forecasts)."""
    x = np.asarray(windows, dtype=float)
    n = x.shape[1]
    k = tail_size(n, a)
    low = np.partition(x, k - 1, axis=1)[:, :k]  # the k smallest, the k-th at index k - 1
    var = low.max(axis=1)
    m = a * n
    es = (low.sum(axis=1) - var + (m - (k - 1)) * var) / m
    return var, np.minimum(es, var)


def cvar(returns: np.ndarray, beta: float = 0.95) -> float:
    """CVaR of the loss ``−returns`` at level ``beta`` (the negated ES)."""
    return -var_es(returns, 1.0 - beta)[1]


def drawdowns(returns: np.ndarray) -> np.ndarray:
    """Drawdown of the uncompounded cumulative path from its running peak (peak ≥ 0)."""
    path = np.cumsum(np.asarray(returns, dtype=float))
    return np.maximum.accumulate(np.maximum(path, 0)) - path


def cdar(returns: np.ndarray, beta: float = 0.95) -> float:
    """CVaR of the drawdowns at level ``beta`` (Chekhlov-Uryasev-Zabarankin)."""
    return cvar(-drawdowns(returns), beta)


def max_drawdown(returns: np.ndarray) -> float:
    """Largest drawdown of the uncompounded path."""
    return float(np.max(drawdowns(returns)))


# ---------------------------------------------------------------- cvxpy: expressions in w


def _variance_expr(w, cov, scenarios, beta):
    import cvxpy as cp

    return cp.quad_form(w, cp.psd_wrap(cov)), []


def _cvar_expr(w, cov, scenarios, beta):
    """Rockafellar-Uryasev: α + Σ uₜ / ((1 − β) T), uₜ ≥ −rₜᵀw − α, u ≥ 0."""
    import cvxpy as cp

    t = scenarios.shape[0]
    alpha = cp.Variable()
    u = cp.Variable(t, nonneg=True)
    return alpha + cp.sum(u) / ((1 - beta) * t), [u >= -scenarios @ w - alpha]


def drawdown_expr(w, scenarios):
    """Drawdowns ``peak − path`` with the peak bounds (Chekhlov): peak ≥ path, ≥ 0, rising."""
    import cvxpy as cp

    t = scenarios.shape[0]
    path = cp.cumsum(scenarios @ w)
    peak = cp.Variable(t)
    return peak - path, [peak >= path, peak >= 0, peak[1:] >= peak[:-1]]


def _cdar_expr(w, cov, scenarios, beta):
    import cvxpy as cp

    dd, cons = drawdown_expr(w, scenarios)
    t = scenarios.shape[0]
    alpha = cp.Variable()
    z = cp.Variable(t, nonneg=True)
    return alpha + cp.sum(z) / ((1 - beta) * t), [*cons, z >= dd - alpha]


def _max_drawdown_expr(w, cov, scenarios, beta):
    import cvxpy as cp

    dd, cons = drawdown_expr(w, scenarios)
    return cp.max(dd), cons


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Measure:
    """One risk measure: how the optimizer writes it and how everyone evaluates it.

    ``expression(w, cov, scenarios, beta)`` returns (cvxpy expression, auxiliary constraints);
    ``value(weights, cov, scenarios, beta)`` the same number in numpy. Utility objectives
    subtract ``utility_scale · δ · risk`` (½ for variance: ``μᵀw − δ/2 wᵀΣw``, the usual
    quadratic utility; 1 for the others).
    """

    name: RiskMeasure
    needs_scenarios: bool
    utility_scale: float
    expression: Callable
    value: Callable


REGISTRY: dict[RiskMeasure, Measure] = {
    RiskMeasure.VARIANCE: Measure(
        RiskMeasure.VARIANCE, False, 0.5, _variance_expr,
        lambda w, cov, scen, beta: float(w @ cov @ w),
    ),
    RiskMeasure.CVAR: Measure(
        RiskMeasure.CVAR, True, 1.0, _cvar_expr,
        lambda w, cov, scen, beta: cvar(scen @ w, beta),
    ),
    RiskMeasure.CDAR: Measure(
        RiskMeasure.CDAR, True, 1.0, _cdar_expr,
        lambda w, cov, scen, beta: cdar(scen @ w, beta),
    ),
    RiskMeasure.MAX_DRAWDOWN: Measure(
        RiskMeasure.MAX_DRAWDOWN, True, 1.0, _max_drawdown_expr,
        lambda w, cov, scen, beta: max_drawdown(scen @ w),
    ),
}


def get(measure: str | RiskMeasure) -> Measure:
    """The registry entry for ``measure`` (a name or a :class:`RiskMeasure`)."""
    from autoport.errors import ConfigError

    try:
        return REGISTRY[RiskMeasure(measure)]
    except ValueError:
        raise ConfigError(
            f"unknown risk measure {measure!r}; choose one of "
            f"{', '.join(m.value for m in RiskMeasure)}"
        ) from None
