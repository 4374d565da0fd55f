"""Names a user types (``--strategy``) mapped to strategy constructors.

A name maps to where its class lives (``module:Class``), and the module is imported only when
that strategy is made: listing the names, or making equal weight, must not import the
autopilot's estimators and optimisers (pypfopt, cvxpy, scikit-learn: about a second in every
process, including each Ray worker of a sweep that runs another strategy).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import MappingProxyType

from autoport.decision import Strategy
from autoport.errors import ConfigError

STRATEGIES = MappingProxyType({
    "equal_weight": "autoport.strategies.equal_weight:EqualWeight",
    "mpt": "autoport.strategies.mpt:MeanVariance",
    "dqn": "autoport.strategies.dqn:DQNPolicy",
    "autopilot": "autoport.strategies.autopilot:Autopilot",
    "regime": "autoport.strategies.regime_switching:RegimeSwitching",
})


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


def strategy_class(name: str) -> Callable[..., Strategy]:
    """The constructor registered as ``name``, its module imported now (not at start-up).

    Parameters
    ----------
    name
        A registered strategy name; an unknown one is one ``ConfigError``.
    """
    module, _, attribute = STRATEGIES[check_strategy_name(name)].partition(":")
    return getattr(importlib.import_module(module), attribute)


def make_strategy(name: str, **params) -> Strategy:
    """Build the strategy registered as ``name``; bad parameters are one ``ConfigError``.

    Parameters
    ----------
    name
        A registered strategy (``equal_weight``, ``mpt``, ``regime``, ``dqn``, ``autopilot``).
    **params
        Its constructor's arguments (for ``mpt``: ``window``, ``objective``, ``max_weight``...).
    """
    factory = strategy_class(name)
    try:
        return factory(**params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for strategy {name!r}: {exc}") from exc
