"""Names, choices and defaults the options' help shows, without importing the libraries behind them.

Typer builds every option's help when the command module is imported, and ``autoport --help``
imports every command module: reading these from :mod:`autoport.strategies`,
:mod:`autoport.optimize` or :mod:`autoport.risk` would load pandas, cvxpy, scikit-learn and
torch just to print a help page. They are copied here; ``tests/cli/test_cli_start.py`` and
``tests/cli/test_cli_conventions.py`` check each against the core's own list and config
defaults, so the copies cannot drift apart silently.

Options with a fixed set of values take the enums below: a bad value is a usage error (exit 2)
that lists the values, and shell completion offers them.
"""

from __future__ import annotations

from enum import StrEnum

STRATEGIES = ("autopilot", "dqn", "equal_weight", "mpt", "regime")  # strategies.registry
OBJECTIVES = (  # autoport.optimize.Objective, in its order
    "min_variance", "max_sharpe", "max_utility", "efficient_return", "efficient_risk",
    "min_cvar", "mean_cvar", "min_cdar", "multi_objective", "kelly", "risk_parity",
)
# PyPortfolioOpt's names, which autoport.optimize.Objective.parse also takes
OBJECTIVE_ALIASES = ("min_volatility", "quadratic_utility", "max_quadratic_utility",
                     "risk_budgeting", "erc")
RETURN_MODELS = ("mean", "arithmetic", "ewma", "capm", "shrunk", "black_litterman")  # autoport.estimators
RISK_MODELS = ("sample", "ledoit_wolf", "oas", "ewma", "factor")  # autoport.estimators
VAR_BACKTEST_MODELS = (  # autoport.risk.var_backtest.BACKTEST_MODELS
    "filtered_historical", "ewma_normal", "historical", "normal",
)
MAX_WEIGHT = 0.25  # autoport.optimize.constraints.DEFAULT_MAX_WEIGHT
VAR_BACKTEST_WINDOW = 500  # autoport.risk.var_backtest.DEFAULT_WINDOW
VAR_METHODS = ("parametric", "historical", "monte_carlo", "all")  # autoport.risk.config
SAMPLERS = ("antithetic", "sobol", "plain")  # autoport.risk.var_common.Sampler
ENGINES = ("zipline", "sim")  # autoport.backtest.ENGINES

WALK_FORWARD_SCHEMES = ("cpcv", "rolling", "expanding")  # autoport.walkforward.Scheme


def _choice(name: str, values: tuple[str, ...]) -> type[StrEnum]:
    return StrEnum(name, [(v, v) for v in values])


Strategy = _choice("Strategy", STRATEGIES)
ObjectiveName = _choice("ObjectiveName", OBJECTIVES + OBJECTIVE_ALIASES)
ReturnsModel = _choice("ReturnsModel", RETURN_MODELS)
RiskModel = _choice("RiskModel", RISK_MODELS)
VarBacktestModel = _choice("VarBacktestModel", VAR_BACKTEST_MODELS)
VarMethod = _choice("VarMethod", VAR_METHODS)
SamplerName = _choice("SamplerName", SAMPLERS)
Engine = _choice("Engine", ENGINES)
WalkForwardScheme = _choice("WalkForwardScheme", WALK_FORWARD_SCHEMES)


def value(choice: StrEnum | None) -> str | None:
    """The plain string the core's configs take (``None`` stays ``None``: not given)."""
    return None if choice is None else str(choice.value)


# Defaults of the config models (shown in --help; the option itself defaults to None so a
# --config file can set the value and the option still overrides it).
BACKTEST = {"strategy": "mpt", "window": 252, "seed": 0}  # autoport.backtest.BacktestConfig
OPTIMIZE = {  # autoport.optimize.config.OptimizeConfig
    "objective": "max_sharpe", "returns_model": "mean", "risk_model": "ledoit_wolf",
    "window": 756, "risk_free_rate": 0.0, "frontier_points": 100, "kelly_fraction": 1.0,
}
STRESS = {  # autoport.risk.config.StressConfig
    "method": "all", "confidence": 0.95, "horizon": 1, "window": 1000,
    "backtest_model": "filtered_historical", "backtest_window": VAR_BACKTEST_WINDOW,
    "paths": 100_000, "sampler": "antithetic", "seed": 0,
}
AGENT = {"timesteps": 40_000, "seed": 0}  # autoport.strategies.dqn.config.AgentConfig
