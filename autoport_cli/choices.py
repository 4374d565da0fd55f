"""Names and defaults the options' help shows, without importing the libraries behind them.

Typer builds every option's help when the command module is imported, and ``autoport --help``
imports every command module: reading these from :mod:`autoport.strategies`,
:mod:`autoport.optimize` or :mod:`autoport.risk` would load pandas, cvxpy, scikit-learn and
torch just to print a help page. They are copied here; ``tests/test_cli_start.py`` checks each
against the core's own list, so the copies cannot drift apart silently.
"""

from __future__ import annotations

STRATEGIES = ("autopilot", "dqn", "equal_weight", "mpt", "regime")  # strategies.registry
OBJECTIVES = (  # autoport.optimize.Objective, in its order
    "min_variance", "max_sharpe", "max_utility", "efficient_return", "efficient_risk",
    "min_cvar", "mean_cvar", "min_cdar", "multi_objective", "kelly", "risk_parity",
)
RETURN_MODELS = ("mean", "arithmetic", "ewma", "capm", "shrunk", "black_litterman")  # autoport.estimators
RISK_MODELS = ("sample", "ledoit_wolf", "oas", "ewma", "factor")  # autoport.estimators
VAR_BACKTEST_MODELS = (  # autoport.risk.var_backtest.BACKTEST_MODELS
    "filtered_historical", "ewma_normal", "historical", "normal",
)
MAX_WEIGHT = 0.25  # autoport.optimize.constraints.DEFAULT_MAX_WEIGHT
VAR_BACKTEST_WINDOW = 500  # autoport.risk.var_backtest.DEFAULT_WINDOW
