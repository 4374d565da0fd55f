"""Objectives on (μ, Σ) or on scenario returns, under any :class:`Constraints`.

Units: ``mu`` annualised expected returns, ``cov`` annualised covariance, ``scenarios`` a
(T × n) array or DataFrame of *daily* simple returns (CVaR and CDaR are reported per day, as
PyPortfolioOpt does). Weights are fractions of the budget.

Risk aversion for quadratic utility comes from a user's ``risk_tolerance`` τ ∈ [0, 1] by
``δ = 10 ** (2 − 3τ)``: τ = 0 → δ = 100 (close to min variance), τ = 0.5 → δ ≈ 3.2,
τ = 1 → δ = 0.1 (close to max return). An explicit ``risk_aversion`` wins over it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
import pandas as pd

from autoport.errors import ConfigError, InfeasibleError, OptimizationError
from autoport.optimize import constraints as C
from autoport.optimize import solvers

LARGE = 200  # assets from which Clarabel uses its faer factorisation


class Objective(str, enum.Enum):
    MIN_VARIANCE = "min_variance"
    MAX_SHARPE = "max_sharpe"
    MAX_UTILITY = "max_utility"
    EFFICIENT_RETURN = "efficient_return"
    EFFICIENT_RISK = "efficient_risk"
    MIN_CVAR = "min_cvar"
    MEAN_CVAR = "mean_cvar"
    MIN_CDAR = "min_cdar"
    MULTI_OBJECTIVE = "multi_objective"
    KELLY = "kelly"
    RISK_PARITY = "risk_parity"

    @classmethod
    def parse(cls, name: str | Objective) -> Objective:
        if isinstance(name, Objective):
            return name
        aliases = {"min_volatility": "min_variance", "quadratic_utility": "max_utility",
                   "max_quadratic_utility": "max_utility", "risk_budgeting": "risk_parity",
                   "erc": "risk_parity"}
        key = aliases.get(name, name)
        try:
            return cls(key)
        except ValueError:
            raise ConfigError(
                f"unknown objective {name!r}; choose one of {', '.join(o.value for o in cls)}"
            ) from None


SCENARIO_OBJECTIVES = (Objective.MIN_CVAR, Objective.MEAN_CVAR, Objective.MIN_CDAR)


def risk_aversion_from_tolerance(risk_tolerance: float) -> float:
    """δ = 10 ** (2 − 3τ) for τ ∈ [0, 1] (see the module docstring)."""
    if not 0.0 <= risk_tolerance <= 1.0:
        raise ConfigError(f"risk_tolerance must be in [0, 1], got {risk_tolerance}")
    return float(10 ** (2.0 - 3.0 * risk_tolerance))


@dataclass(frozen=True)
class OptimizationResult:
    """Weights and what they promise, with the solver that produced them and any notes."""

    objective: str
    weights: pd.Series
    expected_return: float
    volatility: float
    sharpe_ratio: float
    risk_free_rate: float
    solver: str
    status: str
    attempts: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """Validated inputs shared by every objective (internal)."""

    tickers: tuple[str, ...]
    mu: np.ndarray
    cov: np.ndarray
    r: C.Resolved
    scenarios: np.ndarray | None


def prepare(
    mu: pd.Series | np.ndarray,
    cov: pd.DataFrame | np.ndarray,
    constraints: C.Constraints | None,
    scenarios: pd.DataFrame | np.ndarray | None = None,
) -> Problem:
    """Align and check inputs: same tickers, finite numbers, symmetric PSD Σ."""
    from autoport.estimators import ensure_psd

    if isinstance(mu, pd.Series):
        tickers = tuple(str(t) for t in mu.index)
        if isinstance(cov, pd.DataFrame):
            if list(cov.index) != list(mu.index) or list(cov.columns) != list(mu.index):
                try:
                    cov = cov.loc[mu.index, mu.index]
                except KeyError:
                    raise ConfigError(
                        "expected returns and covariance name different tickers; estimate both "
                        "on the same price panel"
                    ) from None
    elif isinstance(cov, pd.DataFrame):
        tickers = tuple(str(t) for t in cov.columns)
    else:
        tickers = tuple(f"A{i}" for i in range(len(np.asarray(mu))))
    mu_arr = np.asarray(mu, dtype=float).ravel()
    cov_arr = np.asarray(ensure_psd(np.asarray(cov, dtype=float)))
    n = len(mu_arr)
    if cov_arr.shape != (n, n):
        raise ConfigError(f"covariance shape {cov_arr.shape} does not match {n} expected returns")
    if not np.isfinite(mu_arr).all():
        bad = [t for t, v in zip(tickers, mu_arr, strict=True) if not np.isfinite(v)]
        raise ConfigError(f"expected returns are not finite for {', '.join(bad[:5])}")
    scen = None
    if scenarios is not None:
        if isinstance(scenarios, pd.DataFrame):
            scenarios = scenarios.loc[:, list(tickers)] if set(tickers) <= set(
                map(str, scenarios.columns)) else scenarios
        scen = np.asarray(scenarios, dtype=float)
        if scen.ndim != 2 or scen.shape[1] != n:
            raise ConfigError(f"scenarios must be (T, {n}) returns, got shape {scen.shape}")
        scen = scen[np.isfinite(scen).all(1)]
        if len(scen) < 2:
            raise ConfigError("scenario returns hold fewer than 2 complete rows")
    return Problem(tickers, mu_arr, cov_arr, C.resolve(constraints, tickers), scen)


def _quad(w, cov: np.ndarray):
    return cp.quad_form(w, cp.psd_wrap(cov))


def _cvar(w, scenarios: np.ndarray, beta: float):
    """Rockafellar-Uryasev CVaR of the loss −Rw at level β; returns (expr, constraints)."""
    t = scenarios.shape[0]
    alpha = cp.Variable()
    u = cp.Variable(t, nonneg=True)
    cons = [u >= -scenarios @ w - alpha]
    return alpha + cp.sum(u) / ((1 - beta) * t), cons


def _drawdowns(w, scenarios: np.ndarray):
    """Uncompounded cumulative return path and the drawdown bounds z ≥ peak − path (Chekhlov)."""
    t = scenarios.shape[0]
    path = cp.cumsum(scenarios @ w)
    peak = cp.Variable(t)
    cons = [peak >= path, peak >= 0, peak[1:] >= peak[:-1]]
    return peak - path, cons


def _cdar(w, scenarios: np.ndarray, beta: float):
    dd, cons = _drawdowns(w, scenarios)
    t = scenarios.shape[0]
    alpha = cp.Variable()
    z = cp.Variable(t, nonneg=True)
    cons += [z >= dd - alpha]
    return alpha + cp.sum(z) / ((1 - beta) * t), cons


def cvar_value(weights: np.ndarray, scenarios: np.ndarray, beta: float) -> float:
    """Historical CVaR of the daily loss: mean of the worst (1 − β) share (interpolated)."""
    losses = np.sort(-(scenarios @ weights))
    t = len(losses)
    var = np.quantile(losses, beta, method="inverted_cdf")
    return float(var + np.maximum(losses - var, 0).sum() / ((1 - beta) * t))


def cdar_value(weights: np.ndarray, scenarios: np.ndarray, beta: float) -> float:
    path = np.cumsum(scenarios @ weights)
    dd = np.maximum.accumulate(np.maximum(path, 0)) - path
    var = np.quantile(dd, beta, method="inverted_cdf")
    return float(var + np.maximum(dd - var, 0).sum() / ((1 - beta) * len(dd)))


def max_drawdown_value(weights: np.ndarray, scenarios: np.ndarray) -> float:
    path = np.cumsum(scenarios @ weights)
    return float(np.max(np.maximum.accumulate(np.maximum(path, 0)) - path))


def _solve_or_diagnose(
    prob: cp.Problem, p: Problem, make_groups, what: str, chain, *, budget: bool = True,
) -> solvers.SolveReport:
    report = solvers.solve(prob, chain, large=p.r.n >= LARGE)
    if report.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE, cp.UNBOUNDED):
        return report
    if report.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        names = C.diagnose(make_groups, p.r.n, solvers.status_only(chain))
        if names:
            raise InfeasibleError(
                f"{what} is infeasible: these constraints cannot all hold together: "
                + "; ".join(names) + f" (solver {report.solver}). Relax at least one of them"
            )
        raise InfeasibleError(
            f"{what}: solver {report.solver} reports {report.status}, yet each constraint set "
            "is feasible on its own; the problem is likely badly scaled"
        )
    raise OptimizationError(
        f"{what}: solver {report.solver} reports {report.status}; "
        "check that the constraints bound the weights (unbounded shorts with no leverage cap?)"
    )


def best_excess_return(p: Problem, risk_free_rate: float, chain=solvers.DEFAULT_CHAIN) -> float:
    """Highest expected excess return (net of costs) any admissible portfolio reaches (an LP)."""
    w = cp.Variable(p.r.n)
    groups = C.build(w, p.r)
    prob = cp.Problem(
        cp.Maximize((p.mu - risk_free_rate) @ w - C.cost_term(w, p.r)), C.flatten(groups)
    )
    report = _solve_or_diagnose(prob, p, lambda v: C.build(v, p.r), "the constraint set", chain)
    if report.status == cp.UNBOUNDED or prob.value is None:
        return float("inf")
    return float(prob.value)


def optimize(
    mu: pd.Series | np.ndarray,
    cov: pd.DataFrame | np.ndarray,
    objective: str | Objective = Objective.MAX_SHARPE,
    constraints: C.Constraints | None = None,
    *,
    risk_free_rate: float = 0.0,
    target_return: float | None = None,
    target_volatility: float | None = None,
    risk_aversion: float | None = None,
    risk_tolerance: float | None = None,
    scenarios: pd.DataFrame | np.ndarray | None = None,
    beta: float = 0.95,
    max_drawdown: float | None = None,
    kelly_fraction: float = 1.0,
    objective_weights: Mapping[str, float] | None = None,
    fallback_to_min_variance: bool = False,
    risk_budget: Mapping[str, float] | None = None,
    asset_classes: Mapping[str, str] | None = None,
    solver_chain: tuple[str, ...] = solvers.DEFAULT_CHAIN,
) -> OptimizationResult:
    """Solve one objective; see :class:`Objective` for the names.

    - ``efficient_return`` needs ``target_return``; ``efficient_risk`` ``target_volatility``.
    - ``max_utility`` maximises ``μᵀw − δ/2 wᵀΣw`` (δ from ``risk_aversion`` or
      ``risk_tolerance``; default δ = 1).
    - ``min_cvar``/``min_cdar`` minimise CVaR/CDaR of daily ``scenarios`` at level ``beta``,
      with ``target_return`` optional; ``mean_cvar`` maximises ``μᵀw − δ·CVaR``.
    - ``max_drawdown`` caps the historical max drawdown of the scenario path (any objective).
    - ``multi_objective`` minimises ``−λ_r μᵀw + λ_v wᵀΣw + λ_c CVaR + λ_d CDaR`` with
      ``objective_weights`` keys ``return``, ``variance``, ``cvar``, ``cdar`` (defaults 1, 1,
      0, 0); :func:`autoport.optimize.pareto_front` traces the trade-off between two of them.
    - ``kelly`` maximises the growth rate ``rf + (μ − rf)ᵀw − 1/(2f) wᵀΣw`` with
      ``f = kelly_fraction``; weights need not sum to 1 (the rest is cash at rf), so the budget
      constraint is dropped; bounds, groups and leverage still hold.
    - ``risk_parity`` matches risk contributions to ``risk_budget`` (equal when None), per
      asset or per class of ``asset_classes``; see :func:`autoport.optimize.risk_budgeting`.
    - ``max_sharpe`` with no admissible portfolio above ``risk_free_rate`` raises
      ``OptimizationError`` offering min variance, or returns min variance with a note when
      ``fallback_to_min_variance``.
    """
    obj = Objective.parse(objective)
    p = prepare(mu, cov, constraints, scenarios)
    if obj == Objective.RISK_PARITY:
        from autoport.optimize.risk_budget import risk_budgeting

        return risk_budgeting(
            pd.DataFrame(p.cov, index=p.tickers, columns=p.tickers), risk_budget,
            asset_classes=asset_classes, constraints=constraints,
            mu=pd.Series(p.mu, index=p.tickers), risk_free_rate=risk_free_rate,
        )
    if (obj in SCENARIO_OBJECTIVES or max_drawdown is not None) and p.scenarios is None:
        raise ConfigError(f"{obj.value} needs scenario returns (the daily return history)")
    if obj == Objective.MULTI_OBJECTIVE and p.scenarios is None and objective_weights and (
        objective_weights.get("cvar") or objective_weights.get("cdar")
    ):
        raise ConfigError("multi_objective with cvar/cdar weights needs scenario returns")
    if not 0.5 <= beta < 1:
        raise ConfigError(f"beta must be in [0.5, 1), got {beta}")
    budget = obj != Objective.KELLY
    C.check_simple(p.r, budget=budget)
    notes: list[str] = []

    if obj == Objective.MAX_SHARPE:
        result = _max_sharpe(p, risk_free_rate, solver_chain, notes)
        if result is not None:
            return result
        # the homogenised problem was infeasible: either the constraints are, or nothing in
        # them beats the risk-free rate; the LP tells which (and the diagnosis names them)
        best = best_excess_return(p, risk_free_rate, solver_chain)
        if best > 1e-12:
            raise OptimizationError(
                f"max_sharpe failed although a portfolio beats the risk-free rate by {best:.2%}; "
                "the problem may be badly scaled"
            )
        message = (
            f"max Sharpe is undefined: no portfolio within the constraints is expected to "
            f"beat the risk-free rate {risk_free_rate:.2%} (best expected excess return "
            f"{best:.2%})"
        )
        if not fallback_to_min_variance:
            raise OptimizationError(
                message + "; use objective min_variance, or lower --risk-free"
            )
        notes.append(message + "; returned min variance instead")
        obj = Objective.MIN_VARIANCE

    n = p.r.n
    w = cp.Variable(n)
    extra_groups: list[C.Group] = []
    extra_cons: list = []
    cost = C.cost_term(w, p.r)
    net_return = p.mu @ w - cost
    risk = _quad(w, p.cov)

    if obj == Objective.MIN_VARIANCE:
        goal = cp.Minimize(risk)
    elif obj == Objective.MAX_UTILITY:
        delta = _delta(risk_aversion, risk_tolerance, default=1.0)
        goal = cp.Maximize(net_return - 0.5 * delta * risk)
    elif obj == Objective.EFFICIENT_RETURN:
        if target_return is None:
            raise ConfigError("efficient_return needs target_return (annualised, e.g. 0.12)")
        goal = cp.Minimize(risk)
        extra_groups.append((f"target return ≥ {target_return:g}",
                             [p.mu @ w - C.cost_term(w, p.r) >= target_return]))
    elif obj == Objective.EFFICIENT_RISK:
        if target_volatility is None or target_volatility <= 0:
            raise ConfigError("efficient_risk needs a positive target_volatility (annualised)")
        goal = cp.Maximize(net_return)
        extra_groups.append((f"target volatility ≤ {target_volatility:g}",
                             [risk <= target_volatility ** 2]))
    elif obj in (Objective.MIN_CVAR, Objective.MEAN_CVAR):
        cvar, cons = _cvar(w, p.scenarios, beta)
        extra_cons += cons
        if obj == Objective.MIN_CVAR:
            goal = cp.Minimize(cvar)
        else:
            delta = _delta(risk_aversion, risk_tolerance, default=1.0)
            goal = cp.Maximize(net_return - delta * cvar)
        if target_return is not None:
            extra_groups.append(
                (f"target return ≥ {target_return:g}", [net_return >= target_return])
            )
    elif obj == Objective.MIN_CDAR:
        cdar, cons = _cdar(w, p.scenarios, beta)
        extra_cons += cons
        goal = cp.Minimize(cdar)
        if target_return is not None:
            extra_groups.append(
                (f"target return ≥ {target_return:g}", [net_return >= target_return])
            )
    elif obj == Objective.MULTI_OBJECTIVE:
        lam = {"return": 1.0, "variance": 1.0, "cvar": 0.0, "cdar": 0.0}
        unknown = set(objective_weights or {}) - set(lam)
        if unknown:
            raise ConfigError(
                f"unknown objective weight(s) {', '.join(sorted(unknown))}; use "
                "return, variance, cvar, cdar"
            )
        lam.update(objective_weights or {})
        if any(v < 0 for v in lam.values()):
            raise ConfigError("objective weights must be ≥ 0")
        expr = -lam["return"] * net_return + lam["variance"] * risk
        if lam["cvar"]:
            cvar, cons = _cvar(w, p.scenarios, beta)
            expr, extra_cons = expr + lam["cvar"] * cvar, extra_cons + cons
        if lam["cdar"]:
            cdar, cons = _cdar(w, p.scenarios, beta)
            expr, extra_cons = expr + lam["cdar"] * cdar, extra_cons + cons
        goal = cp.Minimize(expr)
    elif obj == Objective.KELLY:
        if not 0 < kelly_fraction <= 1:
            raise ConfigError(f"kelly_fraction must be in (0, 1], got {kelly_fraction}")
        goal = cp.Maximize((p.mu - risk_free_rate) @ w - cost - risk / (2 * kelly_fraction))
    else:  # pragma: no cover - enum is exhaustive
        raise ConfigError(f"objective {obj.value} is not handled")

    if max_drawdown is not None:
        dd, cons = _drawdowns(w, p.scenarios)
        extra_cons += cons
        extra_groups.append((f"max drawdown ≤ {max_drawdown:g}", [dd <= max_drawdown]))

    def make_groups(v):
        return C.build(v, p.r, budget=budget) + _rebuild_extra(v, p, obj, target_return,
                                                               target_volatility, max_drawdown)

    groups = C.build(w, p.r, budget=budget) + extra_groups
    prob = cp.Problem(goal, C.flatten(groups) + extra_cons)
    report = _solve_or_diagnose(prob, p, make_groups, obj.value, solver_chain, budget=budget)
    if report.status == cp.UNBOUNDED:
        raise OptimizationError(
            f"{obj.value} is unbounded: the constraints let the weights grow without limit; "
            "add bounds or a max_leverage"
        )
    return _result(obj.value, w.value, p, risk_free_rate, report, notes, beta)


def _rebuild_extra(v, p: Problem, obj, target_return, target_volatility, max_drawdown):
    """The objective's own constraints, rebuilt on a fresh variable for the diagnosis."""
    out: list[C.Group] = []
    if target_return is not None and obj in (
        Objective.EFFICIENT_RETURN, Objective.MIN_CVAR, Objective.MEAN_CVAR, Objective.MIN_CDAR
    ):
        out.append((f"target return ≥ {target_return:g}",
                    [p.mu @ v - C.cost_term(v, p.r) >= target_return]))
    if obj == Objective.EFFICIENT_RISK and target_volatility is not None:
        out.append((f"target volatility ≤ {target_volatility:g}",
                    [_quad(v, p.cov) <= target_volatility ** 2]))
    if max_drawdown is not None:
        dd, cons = _drawdowns(v, p.scenarios)
        out.append((f"max drawdown ≤ {max_drawdown:g}", [*cons, dd <= max_drawdown]))
    return out


def _delta(risk_aversion, risk_tolerance, default):
    if risk_aversion is not None:
        if risk_aversion <= 0:
            raise ConfigError(f"risk_aversion must be positive, got {risk_aversion}")
        return float(risk_aversion)
    if risk_tolerance is not None:
        return risk_aversion_from_tolerance(risk_tolerance)
    return default


def _max_sharpe(p: Problem, rf: float, chain, notes: list[str]) -> OptimizationResult | None:
    """Cornuejols-Tütüncü: min yᵀΣy s.t. (μ − rf)ᵀy − costs ≥ 1, constraints scaled by κ ≥ 0.

    Returns None when that problem is infeasible (the caller finds out why).
    """
    from autoport.optimize import _screening

    if _screening.eligible(p.r):
        found = _screening.max_sharpe(p.mu, p.cov, p.r, rf, chain)
        if found is not None:
            weights, report, size = found
            notes.append(
                f"solved on a working set of {size} of {p.r.n} assets; the other weights are "
                "proven zero by their reduced costs"
            )
            return _result(Objective.MAX_SHARPE.value, weights, p, rf, report, notes, 0.95)
    y = cp.Variable(p.r.n)
    kappa = cp.Variable(nonneg=True)
    groups = C.build(y, p.r, kappa)
    groups.append(("positive excess return", [
        (p.mu - rf) @ y - C.cost_term(y, p.r, kappa) >= 1
    ]))
    prob = cp.Problem(cp.Minimize(_quad(y, p.cov)), C.flatten(groups))
    report = solvers.solve(prob, chain, large=p.r.n >= LARGE)
    if report.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        return None
    if report.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE, cp.UNBOUNDED):
        raise OptimizationError(f"max_sharpe: solver {report.solver} reports {report.status}")
    if report.status == cp.UNBOUNDED or kappa.value is None or kappa.value <= 1e-12:
        raise OptimizationError(
            "max_sharpe has no finite solution (the Sharpe ratio is unbounded on this set); "
            "add bounds or use min_variance"
        )
    weights = y.value / kappa.value
    return _result(Objective.MAX_SHARPE.value, weights, p, rf, report, notes, 0.95)


def _result(name, weights, p: Problem, rf, report, notes, beta) -> OptimizationResult:
    if weights is None:
        raise OptimizationError(f"{name}: solver {report.solver} returned no weights")
    w = np.asarray(weights, dtype=float)
    w = np.where(np.abs(w) < 1e-12, 0.0, w)
    ret = float(p.mu @ w)
    vol = float(np.sqrt(max(w @ p.cov @ w, 0.0)))
    notes = list(notes)
    if report.status != cp.OPTIMAL:
        notes.append(f"solver {report.solver} reported {report.status}: check the weights")
    if report.attempts and len(report.attempts) > 1:
        notes.append("solver fallback: " + "; ".join(report.attempts))
    big = [(t, x) for t, x in zip(p.tickers, w, strict=True)
           if abs(x) > p.r.concentration_warning + 1e-9]
    if big:
        shown = ", ".join(f"{t} {x:.1%}" for t, x in sorted(big, key=lambda b: -abs(b[1]))[:5])
        notes.append(
            f"concentration alert: {len(big)} position(s) above {p.r.concentration_warning:.0%} "
            f"({shown}); a max_position at or below that caps them"
        )
    extra: dict = {}
    if p.r.has_costs:
        extra["transaction_cost"] = float(p.r.cost @ np.abs(w - p.r.w0))
    if p.r.max_turnover is not None or p.r.has_costs:
        extra["turnover"] = float(np.abs(w - p.r.w0).sum())
    if p.scenarios is not None:
        extra["cvar"] = cvar_value(w, p.scenarios, beta)
        extra["cdar"] = cdar_value(w, p.scenarios, beta)
        extra["max_drawdown"] = max_drawdown_value(w, p.scenarios)
    excess = ret - rf * (w.sum() if name == Objective.KELLY.value else 1.0)
    return OptimizationResult(
        objective=name,
        weights=pd.Series(w, index=list(p.tickers), name="weight"),
        expected_return=ret,
        volatility=vol,
        sharpe_ratio=excess / vol if vol > 0 else float("nan"),
        risk_free_rate=rf,
        solver=report.solver,
        status=report.status,
        attempts=report.attempts,
        notes=tuple(notes),
        extra=extra,
    )


def add_cash(
    mu: pd.Series, cov: pd.DataFrame, risk_free_rate: float, name: str = "CASH"
) -> tuple[pd.Series, pd.DataFrame]:
    """Append a cash asset: expected return ``risk_free_rate``, zero variance and covariance."""
    if name in mu.index:
        raise ConfigError(f"a ticker is already called {name!r}; pick another cash name")
    mu2 = pd.concat([mu, pd.Series({name: float(risk_free_rate)})])
    cov2 = cov.reindex(index=mu2.index, columns=mu2.index).fillna(0.0)
    return mu2, cov2
