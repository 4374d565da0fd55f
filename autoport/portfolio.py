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
from autoport.optimize import constraints as C
from autoport.optimize import _homotopy
from autoport.optimize.warm import PathFailed, WarmPath

OBJECTIVES = ("max_sharpe", "min_volatility")
EXACT_OBJECTIVES = (Objective.MAX_SHARPE, Objective.MIN_VARIANCE)


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
    obj = _parse(objective)
    if constraints is None:
        _check_cap(max_weight, prices.shape[1])
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
    undefined = any(n.startswith("max Sharpe is undefined") for n in result.notes)
    return _solution(result.weights.reindex(prices.columns), mu.to_numpy(), cov.to_numpy(),
                     _undefined_note(risk_free_rate) if undefined else "")


def _parse(objective: str) -> Objective:
    try:
        return Objective.parse(objective)
    except ConfigError:
        raise ConfigError(
            f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)} "
            f"or {', '.join(o.value for o in Objective)}"
        ) from None


def _check_cap(max_weight: float, n: int) -> None:
    if max_weight * n < 1.0 - 1e-12:
        raise InfeasibleError(
            f"max_weight {max_weight} times {n} assets is below 1: the weights cannot sum "
            f"to 1; raise max_weight to at least {1.0 / n:.4f}"
        )


def _undefined_note(risk_free_rate: float) -> str:
    return (
        f"no portfolio within the bounds is expected to beat the risk-free rate "
        f"{risk_free_rate:.2%}: max Sharpe is undefined, held min variance instead"
    )


def _solution(weights: pd.Series, mu: np.ndarray, cov: np.ndarray, note: str) -> Solution:
    """Dust below 1e-8 to zero; the expected return and volatility of what is left."""
    return _solution_of(weights.to_numpy(dtype=float), weights.index, weights.name, mu, cov,
                        note)


def _solution_of(w: np.ndarray, index: pd.Index, name, mu: np.ndarray, cov: np.ndarray,
                 note: str) -> Solution:
    """:func:`_solution` of a weight array: the one Series is built here (the exact solvers
    run at every decision, so no Series is built only to be read back)."""
    w = np.where(np.abs(w) > 1e-8, w, 0.0)
    return Solution(pd.Series(w, index=index, name=name),
                    float(w @ mu), float(np.sqrt(w @ cov @ w)), note)


class WindowSolver:
    """:func:`solve` for a strategy that solves one objective on every window of a backtest.

    Max Sharpe and min variance under the default long-only cap (no ``constraints``, no
    ``objective_params``) are solved exactly: each window's estimates straight from its price
    array (:func:`autoport.estimators.window_estimates`, the numbers of :func:`solve`'s
    estimators), then the KKT point of the same problem on the critical-line path,
    warm-started from the previous window's active sets (:class:`WarmPath`, per set of
    tickers). :func:`solve`'s conic solver reaches that point to its tolerance (~1e-5 in
    weights), and is what answers everything else: other objectives or constraints, a window
    with gaps, the rare window the exact path cannot settle (counted in ``fallbacks``).
    Nothing is kept across windows but the active sets, which change the time, not the numbers.
    """

    def __init__(self, *, objective: str = "max_sharpe", max_weight: float = 1.0,
                 risk_free_rate: float = 0.0, constraints: Constraints | None = None,
                 **objective_params) -> None:
        self.objective = _parse(objective)
        self.max_weight = max_weight
        self.risk_free_rate = risk_free_rate
        self.constraints = constraints
        self.objective_params = objective_params
        self.exact = (constraints is None and not objective_params
                      and self.objective in EXACT_OBJECTIVES)
        self._paths: dict[tuple[str, ...], WarmPath] = {}
        self.fallbacks = 0

    def __call__(self, prices: pd.DataFrame) -> Solution:
        """The weights :func:`solve` gives for ``prices`` (one estimation window)."""
        values = np.ascontiguousarray(prices.to_numpy(dtype=float))
        if self.exact and len(values) >= 3 and np.isfinite(values).all() and (values > 0).all():
            _check_cap(self.max_weight, values.shape[1])
            found = self._exact(values, tuple(str(t) for t in prices.columns))
            if found is not None:
                w, mu, cov, note = found
                return _solution_of(np.asarray(w, dtype=float), prices.columns, "weight", mu,
                                    cov, note)
            self.fallbacks += 1
        return solve(prices, objective=self.objective.value, max_weight=self.max_weight,
                     risk_free_rate=self.risk_free_rate, constraints=self.constraints,
                     **self.objective_params)

    def _exact(self, values: np.ndarray, tickers: tuple[str, ...]):
        mu, cov = estimators.window_estimates(values)
        path = self._paths.get(tickers)
        if path is None:
            path = self._paths[tickers] = WarmPath(
                C.resolve(Constraints(upper=self.max_weight), tickers))
        sharpe = self.objective == Objective.MAX_SHARPE
        try:
            found = path.solve(mu, cov, sharpe=sharpe, rf=self.risk_free_rate,
                               min_variance=not sharpe)
        except PathFailed:
            return None
        if not sharpe:
            return found.min_variance, mu, cov, ""
        return (found.max_sharpe, mu, cov,
                "" if found.beats_rf else _undefined_note(self.risk_free_rate))


class LimitsSolver:
    """:func:`solve` for a strategy whose objective and limits change between windows (the
    autopilot: regime-dependent objective and cap, wash-sale blocks that come and go).

    Max Sharpe and min variance under linear limits (bounds, sector caps, an ESG floor: what
    :mod:`autoport.optimize._homotopy` handles) are solved exactly, as :class:`WindowSolver`
    does, with one :class:`WarmPath` per constraint set (a set seen before, such as the
    unblocked one, resumes its warm start; a new one starts from the last active sets on the
    same tickers and rows). Everything else, and the window the exact path
    cannot settle (counted in ``fallbacks``), goes to :func:`solve`. ``estimates`` lets the
    caller hand over the window's (μ, Σ) from :func:`autoport.estimators.window_estimates`
    when it has them already. A :class:`Constraints` object passed again is not resolved again:
    do not change its mappings in place between calls.
    """

    def __init__(self, *, risk_free_rate: float = 0.0) -> None:
        self.risk_free_rate = risk_free_rate
        self._paths: dict[tuple, WarmPath] = {}
        self._last: dict[tuple, WarmPath] = {}  # the last path used, by tickers and rows
        self._resolved: dict[int, tuple] = {}  # constraints seen -> their arrays and key
        self.exact = 0
        self.fallbacks = 0

    def __call__(self, prices: pd.DataFrame, objective: str, constraints: Constraints,
                 estimates: tuple[np.ndarray, np.ndarray] | None = None) -> Solution:
        """The weights ``solve(prices, objective=objective, constraints=constraints)`` gives."""
        obj = _parse(objective)
        found = None
        if obj in EXACT_OBJECTIVES:
            found = self._exact(prices, obj, constraints, estimates)
        elif obj == Objective.MIN_CVAR:
            found = self._min_cvar(prices, constraints, estimates)
        if found is not None:
            self.exact += 1
            return found
        return solve(prices, objective=obj.value, risk_free_rate=self.risk_free_rate,
                     constraints=constraints)

    def _min_cvar(self, prices, constraints, estimates) -> Solution | None:
        """:func:`min_cvar_lp` under the same limits; None (solve it the general way) where the
        limits are not plain bounds and rows."""
        resolved = self._resolve(constraints, tuple(str(t) for t in prices.columns))
        if resolved is None or not resolved[2]:
            return None
        r = resolved[0]
        rows, rhs = _homotopy._rows(r)
        return min_cvar_lp(prices, r.ub, lower=r.lb, rows=rows, rhs=rhs, estimates=estimates)

    def _resolve(self, constraints, tickers):
        """(resolved, key, whether the exact solvers take it), kept per constraints object;
        None when the constraints cannot be resolved (:func:`solve` raises the same)."""
        found = self._resolved.get(id(constraints))
        if found is None or found[0] is not constraints or found[1] != tickers:
            try:
                r = C.resolve(constraints, tickers)
            except (ConfigError, InfeasibleError):
                return None
            ok = (_homotopy.supported(r) and np.isfinite(r.lb).all()
                  and np.isfinite(r.ub).all() and r.budget == 1.0)
            if len(self._resolved) >= 256:
                self._resolved.clear()
            # the entry holds the constraints object, so its id is not reused while kept
            found = self._resolved[id(constraints)] = (constraints, tickers, r, _key(r), ok)
        return found[2:]

    def _exact(self, prices, obj, constraints, estimates) -> Solution | None:
        tickers = tuple(str(t) for t in prices.columns)
        found = self._resolve(constraints, tickers)
        if found is None:
            return None  # solve raises the same, with its message
        r, key, ok = found
        if not ok:
            return None
        if estimates is None:
            values = np.ascontiguousarray(prices.to_numpy(dtype=float))
            if len(values) < 3 or not (np.isfinite(values).all() and (values > 0).all()):
                return None
            estimates = estimators.window_estimates(values)
        mu, cov = estimates
        path = self._paths.get(key)
        if path is None:
            path = self._paths[key] = WarmPath(r)
            # a new set of bounds (a name blocked or freed) on the same rows: its first guess
            # is the last active sets solved on those rows (a guess only; see WarmPath)
            near = self._last.get(key[:1] + key[3:])
            if near is not None:
                path.states, path.peak = dict(near.states), near.peak
        self._last[key[:1] + key[3:]] = path
        sharpe = obj == Objective.MAX_SHARPE
        try:
            found = path.solve(mu, cov, sharpe=sharpe, rf=self.risk_free_rate,
                               min_variance=not sharpe)
        except PathFailed:
            self.fallbacks += 1
            return None
        w = found.max_sharpe if sharpe else found.min_variance
        note = "" if not sharpe or found.beats_rf else _undefined_note(self.risk_free_rate)
        return _solution_of(np.asarray(w, dtype=float), prices.columns, "weight", mu, cov,
                            note)


def _key(r: C.Resolved) -> tuple:
    """What makes two resolved constraint sets the same problem for :class:`WarmPath`."""
    return (r.tickers, r.lb.tobytes(), r.ub.tobytes(), r.group_names, r.membership.tobytes(),
            r.group_min.tobytes(), r.group_max.tobytes(),
            None if r.esg is None else r.esg.tobytes(), r.min_esg)


def min_cvar_lp(prices: pd.DataFrame, upper, *, lower=None, rows=None, rhs=None,
                estimates: tuple[np.ndarray, np.ndarray] | None = None) -> Solution | None:
    """``solve(prices, objective="min_cvar", ...)`` (β 0.95) under ``lower <= w <= upper`` and
    ``rows @ w <= rhs``, as the LP it is, by HiGHS's simplex
    (:func:`autoport.optimize.cvar_lp.min_cvar_weights`: the vertex exactly, where the conic
    solve stops within ~2e-7), with :func:`solve`'s dust rule and the expected return and
    volatility of :func:`autoport.estimators.window_estimates` (``estimates``: those, when the
    caller has them); None (solve it the general way) on a window with a gap or a
    non-positive price, or when HiGHS reports no optimum."""
    from autoport.optimize.cvar_lp import min_cvar_weights

    values = np.ascontiguousarray(prices.to_numpy(dtype=float))
    if len(values) < 3 or not (np.isfinite(values).all() and (values > 0).all()):
        return None
    w = min_cvar_weights(values[1:] / values[:-1] - 1.0, upper, lower=lower, rows=rows,
                         rhs=rhs)  # pct_change's numbers
    if w is None:
        return None
    mu, cov = estimates if estimates is not None else estimators.window_estimates(values)
    return _solution_of(np.asarray(w, dtype=float), prices.columns, "weight", mu, cov, "")
