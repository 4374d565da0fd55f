"""Names a user types (``--strategy``) mapped to strategy constructors."""

from __future__ import annotations

from collections.abc import Callable

from autoport.errors import ConfigError
from autoport.strategies.autopilot import Autopilot
from autoport.decision import Strategy
from autoport.strategies.dqn import DQNPolicy
from autoport.strategies.equal_weight import EqualWeight
from autoport.strategies.mpt import MeanVariance
from autoport.strategies.regime_switching import RegimeSwitching

STRATEGIES: dict[str, Callable[..., Strategy]] = {
    "equal_weight": EqualWeight,
    "mpt": MeanVariance,
    "dqn": DQNPolicy,
    "autopilot": Autopilot,
    "regime": RegimeSwitching,
}


def check_strategy_name(name: str) -> str:
    """``name`` if it is a known strategy, else one error listing the known ones.

    Parameters
    ----------
    name
        The strategy name a user typed.
    """
    if name not in STRATEGIES:
        raise ConfigError(
            f"unknown strategy {name!r}; choose one of {', '.join(sorted(STRATEGIES))}"
        )
    return name


def make_strategy(name: str, **params) -> Strategy:
    """Build the strategy registered as ``name``; bad parameters are one ``ConfigError``.

    Parameters
    ----------
    name
        A registered strategy (``equal_weight``, ``mpt``, ``regime``, ``dqn``, ``autopilot``).
    **params
        Its constructor's arguments (for ``mpt``: ``window``, ``objective``, ``max_weight``...).
    """
    factory = STRATEGIES[check_strategy_name(name)]
    try:
        return factory(**params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for strategy {name!r}: {exc}") from exc
