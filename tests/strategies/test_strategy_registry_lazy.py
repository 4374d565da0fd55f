"""The strategy registry imports a strategy's module only when that strategy is made.

Checked in a fresh interpreter (this test process has imported everything already): listing
the names, or making equal weight, loads none of the autopilot's estimators and optimisers,
which every Ray worker of a sweep would otherwise import at start-up (#14 item 6).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autoport.errors import ConfigError
from autoport.strategies import STRATEGIES, make_strategy
from autoport.strategies.registry import strategy_class

OPTIMISERS = ("cvxpy", "sklearn", "pypfopt", "torch", "hmmlearn")


def _loaded_after(statement: str) -> list[str]:
    code = (f"import sys, json\n{statement}\n"
            f"print(json.dumps([m for m in {OPTIMISERS!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_listing_and_making_equal_weight_import_no_optimiser():
    assert _loaded_after(
        "import autoport.strategies as s\n"
        "assert sorted(s.STRATEGIES) == ['autopilot', 'dqn', 'equal_weight', 'mpt', 'regime']\n"
        "s.make_strategy('equal_weight')") == []


def test_making_the_autopilot_imports_its_optimisers():
    """The check above can fail: the same probe sees them once the autopilot is made."""
    assert {"cvxpy", "pypfopt"} <= set(_loaded_after(
        "from autoport.strategies import make_strategy\nmake_strategy('autopilot')"))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_name_resolves_to_its_class(name):
    cls = strategy_class(name)
    assert isinstance(cls, type)
    assert cls.__name__ == STRATEGIES[name].rpartition(":")[2]


def test_unknown_name_and_bad_parameters_are_one_config_error():
    with pytest.raises(ConfigError, match="choose one of autopilot, dqn"):
        make_strategy("nope")
    with pytest.raises(ConfigError, match="bad parameters for strategy 'equal_weight'"):
        make_strategy("equal_weight", nope=1)
