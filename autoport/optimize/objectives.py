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
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import pandas as pd

from autoport import measures as M
from autoport.errors import ConfigError, InfeasibleError, OptimizationError
from autoport.measures import RiskMeasure
from autoport.optimize import constraints as C
from autoport.optimize import solvers
from autoport.optimize.objective_names import Objective  # noqa: F401 (re-exported)
from autoport.optimize.result import OptimizationResult

LARGE = 200  # assets from which Clarabel uses its faer factorisation


class ObjectiveFunction(str, enum.Enum):
    """What is done with a risk measure (skfolio's ``ObjectiveFunction``)."""

    MINIMIZE_RISK = "min_risk"  # optionally under a target return
    MAXIMIZE_RETURN = "max_return"  # under a risk limit
    MAXIMIZE_RATIO = "max_ratio"  # (μ − rf)ᵀw / risk, by homogenisation
    MAXIMIZE_UTILITY = "max_utility"  # μᵀw − scale·δ·risk (scale from the measure)


@dataclass(frozen=True)
class Alias:
    """A user-facing objective name as an (objective function, risk measure) pair.

    ``target_return``: the name honours ``target_return`` (required when "required");
    ``limit``: the keyword giving the risk limit of ``MAXIMIZE_RETURN`` and how it maps onto the
    measure; ``kelly``: growth-rate utility on excess returns, δ = 1/fraction, no budget.
    """

    function: ObjectiveFunction
    measure: RiskMeasure
    target_return: str | None = None
    kelly: bool = False


F, R = ObjectiveFunction, RiskMeasure
ALIASES: dict[Objective, Alias] = {
    Objective.MIN_VARIANCE: Alias(F.MINIMIZE_RISK, R.VARIANCE),
    Objective.MAX_SHARPE: Alias(F.MAXIMIZE_RATIO, R.VARIANCE),
    Objective.MAX_UTILITY: Alias(F.MAXIMIZE_UTILITY, R.VARIANCE),
    Objective.EFFICIENT_RETURN: Alias(F.MINIMIZE_RISK, R.VARIANCE, target_return="required"),
    Objective.EFFICIENT_RISK: Alias(F.MAXIMIZE_RETURN, R.VARIANCE),
    Objective.MIN_CVAR: Alias(F.MINIMIZE_RISK, R.CVAR, target_return="optional"),
    Objective.MEAN_CVAR: Alias(F.MAXIMIZE_UTILITY, R.CVAR, target_return="optional"),
    Objective.MIN_CDAR: Alias(F.MINIMIZE_RISK, R.CDAR, target_return="optional"),
    Objective.KELLY: Alias(F.MAXIMIZE_UTILITY, R.VARIANCE, kelly=True),
}
del F, R
SCENARIO_OBJECTIVES = tuple(o for o, a in ALIASES.items() if M.get(a.measure).needs_scenarios)


def risk_aversion_from_tolerance(risk_tolerance: float) -> float:
    """δ = 10 ** (2 − 3τ) for τ ∈ [0, 1] (see the module docstring)."""
    if not 0.0 <= risk_tolerance <= 1.0:
        raise ConfigError(f"risk_tolerance must be in [0, 1], got {risk_tolerance}")
    return float(10 ** (2.0 - 3.0 * risk_tolerance))


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
    return M.REGISTRY[RiskMeasure.VARIANCE].expression(w, cov, None, None)[0]


def _cvar(w, scenarios: np.ndarray, beta: float):
    """Rockafellar-Uryasev CVaR of the loss −Rw at level β; returns (expr, constraints)."""
    return M.REGISTRY[RiskMeasure.CVAR].expression(w, None, scenarios, beta)


def _cdar(w, scenarios: np.ndarray, beta: float):
    return M.REGISTRY[RiskMeasure.CDAR].expression(w, None, scenarios, beta)


def cvar_value(weights: np.ndarray, scenarios: np.ndarray, beta: float) -> float:
    """Historical CVaR of the daily loss at level β (the rule of :mod:`autoport.measures`).

    Parameters
    ----------
    weights
        Portfolio weights, shape (N,).
    scenarios
        Daily simple returns of the assets, shape (T, N).
    beta
        Confidence level of CVaR and CDaR (0.95: the worst 5%).
    """
    return M.cvar(scenarios @ weights, beta)


def cdar_value(weights: np.ndarray, scenarios: np.ndarray, beta: float) -> float:
    """CDaR at level β of the portfolio's uncompounded return path (:mod:`autoport.measures`).

    Parameters
    ----------
    weights
        Portfolio weights, shape (N,).
    scenarios
        Daily simple returns of the assets, shape (T, N).
    beta
        Confidence level (0.95: the worst 5% of drawdowns).
    """
    return M.cdar(scenarios @ weights, beta)


def max_drawdown_value(weights: np.ndarray, scenarios: np.ndarray) -> float:
    return M.max_drawdown(scenarios @ weights)


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

    Parameters
    ----------
    mu
        Expected annual returns per asset, shape (N,) (annualised by 252).
    cov
        Annualised covariance of daily returns, shape (N, N).
    objective
        An :class:`Objective` or its name (aliases such as ``min_volatility`` accepted).
    constraints
        Bounds, groups, ESG, turnover and leverage limits; None: long-only, fully invested.
    risk_free_rate
        Annual risk-free rate.
    target_return
        Annual return to reach (``efficient_return``; optional for ``min_cvar``/``min_cdar``).
    target_volatility
        Annual volatility not to exceed (``efficient_risk``).
    risk_aversion, risk_tolerance
        δ of ``max_utility`` and ``mean_cvar``, or its inverse (default δ = 1).
    scenarios
        Daily simple returns of the assets, shape (T, N), for CVaR, CDaR and drawdown.
    beta
        Confidence level of CVaR and CDaR (0.95: the worst 5%).
    max_drawdown
        Cap on the historical max drawdown of the scenario path (a positive fraction, 0.2 = 20%).
    kelly_fraction
        f of ``kelly`` (1: full Kelly).
    objective_weights
        λ per measure (``return``, ``variance``, ``cvar``, ``cdar``) of ``multi_objective``.
    fallback_to_min_variance
        With ``max_sharpe`` and no portfolio above ``risk_free_rate``: min variance with a note
        instead of an error.
    risk_budget
        Target share of risk per asset or class (``risk_parity``); None: equal.
    asset_classes
        Class of each ticker, for a ``risk_budget`` by class.
    solver_chain
        cvxpy solvers tried in order until one solves.
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
    alias = ALIASES.get(obj)
    budget = not (alias and alias.kelly)
    C.check_simple(p.r, budget=budget)
    if obj == Objective.MULTI_OBJECTIVE:
        task = _Task(obj.value, None, None, weights=_multi_weights(objective_weights))
    else:
        task = _alias_task(obj, alias, target_return, target_volatility, risk_aversion,
                           risk_tolerance, kelly_fraction)
    return _solve(p, task, risk_free_rate, beta, max_drawdown, solver_chain,
                  fallback_to_min_variance)


def optimize_pair(
    mu: pd.Series | np.ndarray,
    cov: pd.DataFrame | np.ndarray,
    function: str | ObjectiveFunction,
    measure: str | RiskMeasure,
    constraints: C.Constraints | None = None,
    *,
    risk_free_rate: float = 0.0,
    target_return: float | None = None,
    risk_limit: float | None = None,
    risk_aversion: float = 1.0,
    scenarios: pd.DataFrame | np.ndarray | None = None,
    beta: float = 0.95,
    max_drawdown: float | None = None,
    solver_chain: tuple[str, ...] = solvers.DEFAULT_CHAIN,
) -> OptimizationResult:
    """Any objective function on any risk measure of :mod:`autoport.measures`.

    ``target_return`` (annualised) bounds ``MINIMIZE_RISK`` and ``MAXIMIZE_UTILITY`` from
    below; ``risk_limit`` (in the measure's units: annualised variance, daily CVaR/CDaR/max
    drawdown) is required by ``MAXIMIZE_RETURN``; ``MAXIMIZE_RATIO`` maximises
    ``(μᵀw − rf) / risk`` and needs a measure that is positive on the feasible set.
    """
    fn = _parse(ObjectiveFunction, function, "objective function")
    m = M.get(measure)
    p = prepare(mu, cov, constraints, scenarios)
    if (m.needs_scenarios or max_drawdown is not None) and p.scenarios is None:
        raise ConfigError(f"risk measure {m.name.value} needs scenario returns")
    if not 0.5 <= beta < 1:
        raise ConfigError(f"beta must be in [0.5, 1), got {beta}")
    C.check_simple(p.r, budget=True)
    if fn == ObjectiveFunction.MAXIMIZE_RATIO and max_drawdown is not None:
        raise ConfigError("max_ratio cannot take a max_drawdown cap; use max_utility or "
                          "max_return with it")
    if fn == ObjectiveFunction.MAXIMIZE_RETURN and (risk_limit is None or risk_limit <= 0):
        raise ConfigError(f"max_return needs a positive risk_limit on {m.name.value}")
    task = _Task(f"{fn.value}_{m.name.value}", fn, m.name, target_return=target_return,
                 risk_limit=risk_limit, limit_label=f"{m.name.value} ≤ {risk_limit:g}"
                 if risk_limit is not None else "",
                 delta=_delta(risk_aversion, None, default=1.0))
    return _solve(p, task, risk_free_rate, beta, max_drawdown, solver_chain, False)


def _parse(kind, value, what: str):
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(
            f"unknown {what} {value!r}; choose one of {', '.join(k.value for k in kind)}"
        ) from None


@dataclass(frozen=True)
class _Task:
    """One solve: a name, an (objective function, measure) pair or multi-objective weights."""

    name: str
    function: ObjectiveFunction | None
    measure: RiskMeasure | None
    target_return: float | None = None
    risk_limit: float | None = None
    limit_label: str = ""
    delta: float = 1.0
    excess: bool = False  # utility on (μ − rf)ᵀw and no budget (Kelly)
    weights: Mapping[str, float] | None = None


def _alias_task(obj: Objective, alias: Alias, target_return, target_volatility,
                risk_aversion, risk_tolerance, kelly_fraction) -> _Task:
    """Check an alias's own parameters and turn them into a task."""
    if alias.target_return == "required" and target_return is None:
        raise ConfigError(f"{obj.value} needs target_return (annualised, e.g. 0.12)")
    limit, label, delta = None, "", 1.0
    if alias.function == ObjectiveFunction.MAXIMIZE_RETURN:
        if target_volatility is None or target_volatility <= 0:
            raise ConfigError(f"{obj.value} needs a positive target_volatility (annualised)")
        limit, label = target_volatility ** 2, f"target volatility ≤ {target_volatility:g}"
    if alias.kelly:
        if not 0 < kelly_fraction <= 1:
            raise ConfigError(f"kelly_fraction must be in (0, 1], got {kelly_fraction}")
        delta = 1.0 / kelly_fraction
    elif alias.function == ObjectiveFunction.MAXIMIZE_UTILITY:
        delta = _delta(risk_aversion, risk_tolerance, default=1.0)
    return _Task(obj.value, alias.function, alias.measure,
                 target_return=target_return if alias.target_return else None,
                 risk_limit=limit, limit_label=label, delta=delta, excess=alias.kelly)


def _multi_weights(objective_weights: Mapping[str, float] | None) -> dict[str, float]:
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
    return lam


def _parts(v, p: Problem, task: _Task, rf: float, beta: float, max_drawdown):
    """(goal, auxiliary constraints of the goal, [(label, constraints, auxiliaries)]) in ``v``."""
    cost = C.cost_term(v, p.r)
    net_return = p.mu @ v - cost
    aux: list = []
    groups: list = []
    if task.weights is not None:  # Σ λ_m · measure_m − λ_r · return
        lam = task.weights
        expr = -lam["return"] * net_return + lam["variance"] * _quad(v, p.cov)
        for name in (RiskMeasure.CVAR, RiskMeasure.CDAR):
            if lam[name.value]:
                risk, cons = M.get(name).expression(v, p.cov, p.scenarios, beta)
                expr, aux = expr + lam[name.value] * risk, aux + cons
        goal = cp.Minimize(expr)
    else:
        m = M.get(task.measure)
        risk, cons = m.expression(v, p.cov, p.scenarios, beta)
        fn = task.function
        if fn == ObjectiveFunction.MINIMIZE_RISK:
            goal, aux = cp.Minimize(risk), cons
        elif fn == ObjectiveFunction.MAXIMIZE_RETURN:
            goal = cp.Maximize(net_return)
            groups.append((task.limit_label, [risk <= task.risk_limit], cons))
        else:  # MAXIMIZE_UTILITY (MAXIMIZE_RATIO is solved by _max_ratio)
            gain = (p.mu - rf) @ v - cost if task.excess else net_return
            goal, aux = cp.Maximize(gain - m.utility_scale * task.delta * risk), cons
    if task.target_return is not None:
        groups.insert(0, (f"target return ≥ {task.target_return:g}",
                          [net_return >= task.target_return], []))
    if max_drawdown is not None:
        dd, cons = M.drawdown_expr(v, p.scenarios)
        groups.append((f"max drawdown ≤ {max_drawdown:g}", [dd <= max_drawdown], cons))
    return goal, aux, groups


def _solve(p: Problem, task: _Task, rf: float, beta: float, max_drawdown, chain,
           fallback: bool) -> OptimizationResult:
    notes: list[str] = []
    if task.function == ObjectiveFunction.MAXIMIZE_RATIO:
        result = _max_ratio(p, task, rf, chain, notes, beta)
        if result is not None:
            return result
        # the homogenised problem was infeasible: either the constraints are, or nothing in
        # them beats the risk-free rate; the LP tells which (and the diagnosis names them)
        best = best_excess_return(p, rf, chain)
        if best > 1e-12:
            raise OptimizationError(
                f"{task.name} failed although a portfolio beats the risk-free rate by "
                f"{best:.2%}; the problem may be badly scaled"
            )
        ratio = "Sharpe" if task.measure == RiskMeasure.VARIANCE else "return/risk ratio"
        fallback_name = _min_risk_name(task.measure)
        message = (
            f"max {ratio} is undefined: no portfolio within the constraints is expected to "
            f"beat the risk-free rate {rf:.2%} (best expected excess return {best:.2%})"
        )
        if not fallback:
            raise OptimizationError(
                message + f"; use objective {fallback_name}, or lower --risk-free"
            )
        notes.append(message + f"; returned {fallback_name.replace('_', ' ')} instead")
        task = _Task(fallback_name, ObjectiveFunction.MINIMIZE_RISK, task.measure)

    budget = not task.excess
    w = cp.Variable(p.r.n)
    goal, aux, extra = _parts(w, p, task, rf, beta, max_drawdown)

    def make_groups(v):
        rebuilt = _parts(v, p, task, rf, beta, max_drawdown)[2]
        return C.build(v, p.r, budget=budget) + [(lab, [*a, *c]) for lab, c, a in rebuilt]

    groups = C.build(w, p.r, budget=budget) + [(lab, c) for lab, c, _ in extra]
    cons = C.flatten(groups) + aux + [c for _, _, a in extra for c in a]
    prob = cp.Problem(goal, cons)
    report = _solve_or_diagnose(prob, p, make_groups, task.name, chain, budget=budget)
    if report.status == cp.UNBOUNDED:
        raise OptimizationError(
            f"{task.name} is unbounded: the constraints let the weights grow without limit; "
            "add bounds or a max_leverage"
        )
    return _result(task.name, w.value, p, rf, report, notes, beta)


def _min_risk_name(measure: RiskMeasure) -> str:
    for obj, alias in ALIASES.items():
        if (alias.function, alias.measure) == (ObjectiveFunction.MINIMIZE_RISK, measure) and (
            alias.target_return != "required"
        ):
            return obj.value
    return f"{ObjectiveFunction.MINIMIZE_RISK.value}_{measure.value}"


def _delta(risk_aversion, risk_tolerance, default):
    if risk_aversion is not None:
        if risk_aversion <= 0:
            raise ConfigError(f"risk_aversion must be positive, got {risk_aversion}")
        return float(risk_aversion)
    if risk_tolerance is not None:
        return risk_aversion_from_tolerance(risk_tolerance)
    return default


def _max_ratio(p: Problem, task: _Task, rf: float, chain, notes: list[str],
               beta: float) -> OptimizationResult | None:
    """Cornuejols-Tütüncü: min risk(y) s.t. (μ − rf)ᵀy − costs ≥ 1, constraints scaled by κ ≥ 0.

    Exact for any positively homogeneous measure (variance ranks as its square root does).
    Returns None when that problem is infeasible (the caller finds out why).
    """
    from autoport.optimize import _screening

    m = M.get(task.measure)
    if m.name == RiskMeasure.VARIANCE and _screening.eligible(p.r):
        found = _screening.max_sharpe(p.mu, p.cov, p.r, rf, chain)
        if found is not None:
            weights, report, size = found
            notes.append(
                f"solved on a working set of {size} of {p.r.n} assets; the other weights are "
                "proven zero by their reduced costs"
            )
            return _result(task.name, weights, p, rf, report, notes, beta)
    y = cp.Variable(p.r.n)
    kappa = cp.Variable(nonneg=True)
    groups = C.build(y, p.r, kappa)
    groups.append(("positive excess return", [
        (p.mu - rf) @ y - C.cost_term(y, p.r, kappa) >= 1
    ]))
    risk, aux = m.expression(y, p.cov, p.scenarios, beta)
    prob = cp.Problem(cp.Minimize(risk), C.flatten(groups) + aux)
    report = solvers.solve(prob, chain, large=p.r.n >= LARGE)
    if report.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        return None
    if report.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE, cp.UNBOUNDED):
        raise OptimizationError(f"{task.name}: solver {report.solver} reports {report.status}")
    if report.status == cp.UNBOUNDED or kappa.value is None or kappa.value <= 1e-12:
        ratio = "Sharpe ratio" if m.name == RiskMeasure.VARIANCE else "return/risk ratio"
        raise OptimizationError(
            f"{task.name} has no finite solution (the {ratio} is unbounded on this set); "
            f"add bounds or use {_min_risk_name(m.name)}"
        )
    weights = y.value / kappa.value
    return _result(task.name, weights, p, rf, report, notes, beta)


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
        for m in M.REGISTRY.values():
            if m.needs_scenarios:
                extra[m.name.value] = m.value(w, p.cov, p.scenarios, beta)
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
