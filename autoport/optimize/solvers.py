"""The solver fallback chain: Clarabel, then OSQP, then SCS, reporting which one answered.

Peers give up when their one solver fails on a large or badly scaled problem (PyPortfolioOpt
#221, skfolio #117). Here a numerical failure moves on to the next installed solver that accepts
the problem class; an *infeasible* or *unbounded* verdict from an interior-point solver is
believed and returned, since another solver cannot make inconsistent constraints consistent.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import cvxpy as cp

from autoport.errors import OptimizationError

DEFAULT_CHAIN = ("CLARABEL", "OSQP", "SCS")
_OK = (cp.OPTIMAL,)
_VERDICT = (cp.INFEASIBLE, cp.UNBOUNDED, cp.INFEASIBLE_INACCURATE, cp.UNBOUNDED_INACCURATE)

_OPTIONS: dict[str, dict] = {
    "CLARABEL": {"tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9},
    "OSQP": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iter": 200_000, "polish": True},
    "SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200_000},
    "HIGHS": {},
}


@dataclass(frozen=True)
class SolveReport:
    solver: str
    status: str
    attempts: tuple[str, ...]  # "SOLVER: outcome" for each try, in order


@functools.lru_cache(maxsize=32)
def installed(chain: tuple[str, ...] = DEFAULT_CHAIN) -> tuple[str, ...]:
    have = set(cp.installed_solvers())
    return tuple(s for s in chain if s in have)


def solve(
    problem: cp.Problem, chain: tuple[str, ...] = DEFAULT_CHAIN, *, large: bool = False,
    warm_start: bool = False,
) -> SolveReport:
    """Solve with the first solver of ``chain`` that returns optimal; raise if none does.

    Returns the report also for an infeasible/unbounded verdict (the caller diagnoses it).
    ``large`` switches Clarabel to its multithreaded dense-friendly ``faer`` factorisation.
    """
    solvers = installed(chain)
    if not solvers:
        raise OptimizationError(
            f"none of the solvers {', '.join(chain)} is installed; install clarabel "
            f"(installed: {', '.join(cp.installed_solvers())})"
        )
    attempts: list[str] = []
    inaccurate: SolveReport | None = None
    for name in solvers:
        options = dict(_OPTIONS.get(name, {}))
        if name == "CLARABEL" and large:
            options["direct_solve_method"] = "faer"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # the status says it; we report
                problem.solve(solver=name, warm_start=warm_start, **options)
        except cp.error.SolverError as exc:
            attempts.append(f"{name}: {str(exc).splitlines()[0][:120]}")
            continue
        except (ValueError, ArithmeticError) as exc:
            attempts.append(f"{name}: {type(exc).__name__}: {str(exc)[:120]}")
            continue
        status = problem.status
        attempts.append(f"{name}: {status}")
        if status in _OK:
            return SolveReport(name, status, tuple(attempts))
        if status in (cp.INFEASIBLE, cp.UNBOUNDED):
            return SolveReport(name, status, tuple(attempts))
        if status == cp.OPTIMAL_INACCURATE and inaccurate is None:
            inaccurate = SolveReport(name, status, tuple(attempts))
        if status in _VERDICT and inaccurate is None:
            inaccurate = SolveReport(name, status, tuple(attempts))
    if inaccurate is not None:
        if inaccurate.status == cp.OPTIMAL_INACCURATE:
            # re-solve with that solver so the variables hold its answer
            name = inaccurate.solver
            options = dict(_OPTIONS.get(name, {}))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                problem.solve(solver=name, **options)
        return SolveReport(inaccurate.solver, inaccurate.status, tuple(attempts))
    raise OptimizationError(
        "every solver failed: " + "; ".join(attempts)
        + ". Check the inputs' scale (annualised returns around 0.1, not 10) or try fewer assets"
    )


def status_only(chain: tuple[str, ...] = DEFAULT_CHAIN):
    """A ``problem → status`` function for feasibility checks."""

    def run(problem: cp.Problem) -> str:
        try:
            return solve(problem, chain).status
        except OptimizationError:
            return "failed"

    return run
