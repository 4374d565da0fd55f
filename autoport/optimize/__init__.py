"""Portfolio optimisation: objectives, constraints, the frontier, risk budgeting, Pareto sets.

Pure functions on (μ, Σ, scenarios) arrays or pandas objects; no printing, no files. Every
solve goes through the Clarabel → OSQP → SCS fallback chain and reports the solver that answered.
"""

from autoport.optimize.constraints import CONCENTRATION_WARNING, Constraints
from autoport.optimize.frontier import Frontier, efficient_frontier, pareto_front
from autoport.optimize.objectives import (
    Objective,
    OptimizationResult,
    add_cash,
    cdar_value,
    cvar_value,
    max_drawdown_value,
    optimize,
    risk_aversion_from_tolerance,
)
from autoport.optimize.risk_budget import risk_budgeting, risk_contributions
from autoport.optimize.solvers import DEFAULT_CHAIN

__all__ = [
    "CONCENTRATION_WARNING", "DEFAULT_CHAIN", "Constraints", "Frontier", "Objective",
    "OptimizationResult", "add_cash", "cdar_value", "cvar_value", "efficient_frontier",
    "max_drawdown_value", "optimize", "pareto_front", "risk_aversion_from_tolerance",
    "risk_budgeting", "risk_contributions",
]
