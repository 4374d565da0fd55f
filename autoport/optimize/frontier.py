"""The efficient frontier and the Pareto set of two measures, each as one compiled problem.

The frontier runs from the minimum-variance portfolio to the highest expected return the
constraints allow, at ``n_points`` equally spaced target returns (100 by default, up to 1000).
With linear constraints one walk of a critical-line homotopy gives everything, exactly, with no
conic solve: its start is the minimum-variance portfolio, its end the highest return, its Sharpe
peak the tangency portfolio, and each point is certified by its KKT conditions (see
:mod:`autoport.optimize._homotopy`). If that walk fails, the minimum-variance portfolio and the
highest return come from conic solves and the walk is tried again from there; otherwise, or if
it fails again, every point re-solves the *same* cvxpy problem with the target as a DPP
parameter, so cvxpy compiles once and each point is a bare solver call (PyPortfolioOpt compiles
one problem per point).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
import pandas as pd

from autoport import measures as M
from autoport.errors import ConfigError, OptimizationError
from autoport.estimators import single_blas_thread
from autoport.optimize import _homotopy, solvers
from autoport.optimize import constraints as C
from autoport.optimize import objectives as O

MAX_POINTS = 1000
MEASURES = ("return", "variance", "cvar", "cdar")
_PATH = "critical-line homotopy"


@dataclass(frozen=True)
class Frontier:
    """Points ordered by target return; ``weights`` is (n_points × n_assets)."""

    returns: np.ndarray
    volatilities: np.ndarray
    sharpe: np.ndarray
    weights: pd.DataFrame
    risk_free_rate: float
    solver: str
    min_variance: O.OptimizationResult
    tangency: O.OptimizationResult | None
    notes: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        head = pd.DataFrame(
            {"return": self.returns, "volatility": self.volatilities, "sharpe": self.sharpe}
        )
        return pd.concat([head, self.weights.reset_index(drop=True)], axis=1)

    def records(self) -> list[dict]:
        """The JSON shape: ``[{"return", "volatility", "sharpe", "weights": {ticker: w}}]``."""
        return [
            {
                "return": float(r), "volatility": float(v), "sharpe": float(s),
                "weights": {t: float(x) for t, x in row.items()},
            }
            for r, v, s, (_, row) in zip(
                self.returns, self.volatilities, self.sharpe, self.weights.iterrows(), strict=True
            )
        ]


def efficient_frontier(
    mu: pd.Series | np.ndarray,
    cov: pd.DataFrame | np.ndarray,
    constraints: C.Constraints | None = None,
    *,
    n_points: int = 100,
    risk_free_rate: float = 0.0,
    solver_chain: tuple[str, ...] = solvers.DEFAULT_CHAIN,
    method: str = "auto",
) -> Frontier:
    """Long-only by default; any convex :class:`Constraints` applies to every point.

    ``method``: ``"homotopy"`` walks the exact piecewise-affine path (linear constraints only),
    ``"pointwise"`` re-solves one compiled DPP problem per point, ``"auto"`` tries the former
    and falls back to the latter with a note.

    Parameters
    ----------
    mu
        Expected annual returns per asset, shape (N,) (annualised by 252).
    cov
        Annualised covariance of daily returns, shape (N, N).
    constraints
        Bounds, groups, ESG, turnover and leverage limits; None: long-only, fully invested.
    n_points
        Portfolios on the frontier.
    risk_free_rate
        Annual risk-free rate.
    solver_chain
        cvxpy solvers tried in order until one solves.
    method
        ``auto``, ``homotopy`` or ``pointwise``.
    """
    if method not in ("auto", "homotopy", "pointwise"):
        raise ConfigError(f"unknown frontier method {method!r}; use auto, homotopy or pointwise")
    if not 2 <= n_points <= MAX_POINTS:
        raise ConfigError(f"frontier points must be between 2 and {MAX_POINTS}, got {n_points}")
    p = O.prepare(mu, cov, constraints)
    C.check_simple(p.r)
    if method in ("auto", "homotopy") and _homotopy.supported(p.r):
        fast = _whole_path(p, mu, cov, constraints, n_points, risk_free_rate, solver_chain)
        if fast is not None:
            return fast
    mv = O.optimize(mu, cov, O.Objective.MIN_VARIANCE, constraints,
                    risk_free_rate=risk_free_rate, solver_chain=solver_chain)
    r_max = O.best_excess_return(p, 0.0, solver_chain)
    w_mv = mv.weights.to_numpy()
    r_min = float(p.mu @ w_mv - (p.r.cost @ np.abs(w_mv - p.r.w0) if p.r.has_costs else 0.0))
    targets, notes = _targets(r_min, r_max, n_points)

    weights = None
    used: set[str] = set()
    if method == "homotopy" and not _homotopy.supported(p.r):
        raise ConfigError(
            "the exact frontier path handles linear constraints only; turnover, leverage and "
            "transaction costs need method 'pointwise' (or 'auto')"
        )
    if method in ("auto", "homotopy") and _homotopy.supported(p.r):
        try:
            with single_blas_thread(p.r.n):
                weights = _homotopy.frontier_path(p.mu, p.cov, p.r, w_mv, targets)
            used.add(_PATH)
        except _homotopy.PathFailed as exc:
            if method == "homotopy":
                raise OptimizationError(f"the exact frontier path failed: {exc}") from None
            notes.append(f"exact path unavailable ({exc}); solved point by point")
    if weights is None:
        weights = _pointwise(p, targets, w_mv, solver_chain, notes, used)
    tangency = _conic_tangency(mu, cov, constraints, risk_free_rate, solver_chain, notes)
    return _assemble(p, weights, risk_free_rate, used, mv, tangency, notes)


def _conic_tangency(mu, cov, constraints, risk_free_rate: float, solver_chain,
                    notes: list[str]) -> O.OptimizationResult | None:
    """The max-Sharpe portfolio by a conic solve; None (and why, in ``notes``) when undefined."""
    try:
        return O.optimize(mu, cov, O.Objective.MAX_SHARPE, constraints,
                          risk_free_rate=risk_free_rate, solver_chain=solver_chain)
    except OptimizationError as exc:
        notes.append(str(exc))
        return None


def _targets(r_min: float, r_max: float, n_points: int) -> tuple[np.ndarray, list[str]]:
    """Equally spaced target returns from the minimum-variance return to the highest one."""
    if not np.isfinite(r_max):
        raise OptimizationError(
            "the constraints allow unbounded expected return (shorts without limits); "
            "add bounds or max_leverage to draw a frontier"
        )
    notes: list[str] = []
    if r_max - r_min < 1e-9 * max(1.0, abs(r_max)):
        notes.append("the minimum-variance portfolio already has the highest expected return: "
                     "the frontier is one point")
    # stop a hair inside the top: at exactly r_max the feasible set is a single face
    targets = np.linspace(r_min, r_max - 1e-9 * max(1.0, abs(r_max)), n_points)
    targets[0] = r_min
    return targets, notes


def _whole_path(p: O.Problem, mu, cov, constraints, n_points: int, risk_free_rate: float,
                solver_chain) -> Frontier | None:
    """The frontier, its minimum-variance and tangency points from one walk of the exact path.

    No conic solve: λ = 0 is the minimum-variance portfolio, the path's end the highest return
    and the tangency portfolio its Sharpe peak (one division per segment). None when the walk
    fails; the caller then starts over with conic solves (and says so if that walk fails too).
    """
    try:
        with single_blas_thread(p.r.n):
            segments = _homotopy.trace(p.mu, p.cov, p.r)
            w_mv, _ = _homotopy.min_variance(p.mu, p.cov, p.r, segments=segments)
            r_min = float(p.mu @ w_mv)
            r_max = _homotopy._end_return(p.mu, segments[-1])
            targets, notes = _targets(r_min, r_max, n_points)
            weights = _homotopy.read_targets(p.mu, p.r, segments, targets)
            found = None
            if abs(p.r.budget - 1.0) < 1e-12 and r_max - risk_free_rate > 1e-12:
                found = _homotopy.max_sharpe(p.mu, p.cov, p.r, risk_free_rate,
                                             segments=segments)
            w_tan = None if found is None else found[0]
    except _homotopy.PathFailed:
        return None
    report = solvers.SolveReport(_PATH, cp.OPTIMAL, (f"{_PATH}: optimal",))
    mv = O._result(O.Objective.MIN_VARIANCE.value, w_mv, p, risk_free_rate, report, [], 0.95)
    if w_tan is not None:
        tangency = O._result(O.Objective.MAX_SHARPE.value, w_tan, p, risk_free_rate, report,
                             [], 0.95)
    else:  # nothing beats the risk-free rate (or a budget other than 1): the conic answer
        tangency = _conic_tangency(mu, cov, constraints, risk_free_rate, solver_chain, notes)
    return _assemble(p, weights, risk_free_rate, {_PATH}, mv, tangency, notes)


def _assemble(p: O.Problem, weights: np.ndarray, risk_free_rate: float, used: set[str], mv,
              tangency, notes: list[str]) -> Frontier:
    weights[np.abs(weights) < 1e-12] = 0.0
    rets = weights @ p.mu
    vols = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", weights, p.cov, weights), 0.0))
    sharpe = np.where(vols > 0, (rets - risk_free_rate) / np.where(vols > 0, vols, 1), np.nan)
    return Frontier(
        returns=rets, volatilities=vols, sharpe=sharpe,
        weights=pd.DataFrame(weights, columns=list(p.tickers)),
        risk_free_rate=risk_free_rate, solver="+".join(sorted(used)) or mv.solver,
        min_variance=mv, tangency=tangency, notes=tuple(notes),
    )


def _pointwise(p: O.Problem, targets: np.ndarray, w_mv: np.ndarray, solver_chain,
               notes: list[str], used: set[str]) -> np.ndarray:
    """One DPP problem (target return as a parameter) re-solved per point."""
    w = cp.Variable(p.r.n)
    target = cp.Parameter()
    cons = C.flatten(C.build(w, p.r)) + [p.mu @ w - C.cost_term(w, p.r) >= target]
    prob = cp.Problem(cp.Minimize(O._quad(w, p.cov)), cons)
    weights = np.empty((len(targets), p.r.n))
    for k, t in enumerate(targets):
        if k == 0:
            weights[k] = w_mv
            continue
        target.value = float(t)
        report = solvers.solve(prob, solver_chain, large=p.r.n >= O.LARGE)
        if report.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or w.value is None:
            raise OptimizationError(
                f"frontier point {k + 1} (target return {t:.4%}) failed: {report.status} "
                f"({'; '.join(report.attempts)})"
            )
        if report.status != cp.OPTIMAL:
            notes.append(f"point {k + 1}: {report.solver} {report.status}")
        used.add(report.solver)
        weights[k] = w.value
    return weights


def _measure(name: str, w, p: O.Problem, beta: float):
    """(cvxpy expression, extra constraints, sense) for one measure; sense +1 = minimise.
    Risk measures come from the one registry (:mod:`autoport.measures`)."""
    if name == "return":
        return p.mu @ w - C.cost_term(w, p.r), [], -1
    if name not in MEASURES:
        raise ConfigError(f"unknown measure {name!r}; choose from {', '.join(MEASURES)}")
    measure = M.get(name)
    if measure.needs_scenarios and p.scenarios is None:
        raise ConfigError(f"measure {name} needs scenario returns")
    expr, cons = measure.expression(w, p.cov, p.scenarios, beta)
    return expr, cons, 1


def _value(name: str, w: np.ndarray, p: O.Problem, beta: float) -> float:
    if name == "return":
        return float(p.mu @ w)
    return M.get(name).value(w, p.cov, p.scenarios, beta)


def pareto_front(
    mu: pd.Series | np.ndarray,
    cov: pd.DataFrame | np.ndarray,
    pair: tuple[str, str] = ("return", "cdar"),
    constraints: C.Constraints | None = None,
    *,
    scenarios: pd.DataFrame | np.ndarray | None = None,
    n_points: int = 20,
    beta: float = 0.95,
    solver_chain: tuple[str, ...] = solvers.DEFAULT_CHAIN,
) -> pd.DataFrame:
    """Non-dominated portfolios for two measures (ε-constraint method).

    The second measure of ``pair`` is optimised while the first is held at ``n_points`` levels
    between its two extremes (each measure optimised alone). Returns one row per
    non-dominated point: both measures and the weights.

    Parameters
    ----------
    mu
        Expected annual returns per asset, shape (N,) (annualised by 252).
    cov
        Annualised covariance of daily returns, shape (N, N).
    pair
        Two of ``return``, ``variance``, ``cvar``, ``cdar``: the first held at levels, the second
        optimised.
    constraints
        Bounds, groups, ESG, turnover and leverage limits; None: long-only, fully invested.
    scenarios
        Daily simple returns of the assets, shape (T, N), for CVaR, CDaR and drawdown.
    n_points
        Levels of the first measure.
    beta
        Confidence level of CVaR and CDaR (0.95: the worst 5%).
    solver_chain
        cvxpy solvers tried in order until one solves.
    """
    a, b = pair
    if a == b or a not in MEASURES or b not in MEASURES:
        raise ConfigError(f"pair must be two different measures from {', '.join(MEASURES)}")
    if not 2 <= n_points <= MAX_POINTS:
        raise ConfigError(f"pareto points must be between 2 and {MAX_POINTS}, got {n_points}")
    p = O.prepare(mu, cov, constraints, scenarios)
    C.check_simple(p.r)
    large = p.r.n >= O.LARGE

    def solve_alone(name: str) -> np.ndarray:
        w = cp.Variable(p.r.n)
        expr, cons, sense = _measure(name, w, p, beta)
        goal = cp.Minimize(expr) if sense > 0 else cp.Maximize(expr)
        prob = cp.Problem(goal, C.flatten(C.build(w, p.r)) + cons)
        O._solve_or_diagnose(prob, p, lambda v: C.build(v, p.r), f"best {name}", solver_chain)
        return np.asarray(w.value)

    wa, wb = solve_alone(a), solve_alone(b)
    lo, hi = sorted((_value(a, wb, p, beta), _value(a, wa, p, beta)))
    w = cp.Variable(p.r.n)
    expr_b, cons_b, sense_b = _measure(b, w, p, beta)
    expr_a, cons_a, sense_a = _measure(a, w, p, beta)
    level = cp.Parameter()
    bound = expr_a >= level if sense_a < 0 else expr_a <= level
    goal = cp.Minimize(expr_b) if sense_b > 0 else cp.Maximize(expr_b)
    prob = cp.Problem(goal, C.flatten(C.build(w, p.r)) + cons_a + cons_b + [bound])
    rows = []
    for eps in np.linspace(lo, hi, n_points):
        level.value = float(eps)
        report = solvers.solve(prob, solver_chain, large=large)
        if report.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or w.value is None:
            continue
        x = np.where(np.abs(w.value) < 1e-12, 0.0, w.value)
        rows.append((_value(a, x, p, beta), _value(b, x, p, beta), x))
    keep = []
    for i, (va, vb, _) in enumerate(rows):
        dominated = any(
            _dominates((ua, ub), (va, vb), (sense_a, sense_b))
            for j, (ua, ub, _) in enumerate(rows) if j != i
        )
        if not dominated:
            keep.append(i)
    frame = pd.DataFrame(
        [[rows[i][0], rows[i][1], *rows[i][2]] for i in keep],
        columns=[a, b, *p.tickers],
    )
    return frame


def _dominates(u, v, senses, tol: float = 1e-9) -> bool:
    """u dominates v: no worse in both measures and strictly better in one (sense +1 = min)."""
    better_or_equal = all(s * (x - y) <= tol * max(1.0, abs(y))
                          for x, y, s in zip(u, v, senses, strict=True))
    strictly = any(s * (x - y) < -tol * max(1.0, abs(y))
                   for x, y, s in zip(u, v, senses, strict=True))
    return better_or_equal and strictly
