"""The optimizer's objective names (an enum with the aliases a user may type).

Apart from the solvers so that a config can check a name without importing cvxpy (the regime
config validates its per-regime objectives on every ``autoport regime``).
"""

from __future__ import annotations

import enum

from autoport.errors import ConfigError


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
        """The objective a name stands for (aliases accepted), or one ``ConfigError``.

        Parameters
        ----------
        name
            An objective, its value (``max_sharpe``) or an alias (``min_volatility``, ``erc``).
        """
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
