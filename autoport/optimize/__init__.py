"""Portfolio optimisation: objectives, constraints, the frontier, risk budgeting, Pareto sets.

Pure functions on (μ, Σ, scenarios) arrays or pandas objects; no printing, no files. Every
solve goes through the Clarabel → OSQP → SCS fallback chain and reports the solver that answered.

The names below load on first use (PEP 562): a config that only reads a constant or an
objective name (``autoport regime`` reads both) does not pay for cvxpy and the estimators.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "CONCENTRATION_WARNING": "constraints", "Constraints": "constraints",
    "Frontier": "frontier", "efficient_frontier": "frontier", "pareto_front": "frontier",
    "Objective": "objectives", "OptimizationResult": "objectives", "add_cash": "objectives",
    "cdar_value": "objectives", "cvar_value": "objectives",
    "max_drawdown_value": "objectives", "optimize": "objectives",
    "risk_aversion_from_tolerance": "objectives",
    "risk_budgeting": "risk_budget", "risk_contributions": "risk_budget",
    "DEFAULT_CHAIN": "solvers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
