"""``autoport --help`` stays instant: importing the CLI loads no heavy library (issue 13.1).

Checked in a fresh interpreter (this test process has imported everything already). The
speed itself is measured by ``experiments/bench/bench_cli_start.py``, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# pandas/numpy too: at ~0.7 s they alone would break the 0.5 s budget of `autoport --help`
HEAVY = ("torch", "zipline", "cvxpy", "sklearn", "scipy.stats", "matplotlib", "mlflow",
         "pypfopt", "stable_baselines3", "pandas", "numpy")


def _loaded_after(statement: str) -> list[str]:
    code = (f"import sys, json\n{statement}\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_library():
    assert _loaded_after("import autoport_cli.main") == []


def test_the_check_sees_a_heavy_import():
    """The probe itself: a module that does load one is caught."""
    assert "scipy.stats" in _loaded_after("import autoport_cli.main, scipy.stats")


def test_help_of_every_command_runs_without_heavy_imports():
    code = ("from typer.testing import CliRunner\nfrom autoport_cli.main import app\n"
            "for c in ('backtest', 'stress', 'optimize', 'train-agent', 'promote', 'runs', "
            "'regime', 'monitor', 'walk-forward', 'sweep'):\n"
            "    r = CliRunner().invoke(app, [c, '--help'])\n"
            "    assert r.exit_code == 0 and 'Usage' in r.output, (c, r.output)")
    assert _loaded_after(code) == []


def test_option_choices_equal_the_cores_lists():
    """``autoport_cli.choices`` copies names so --help needs no numpy; they must not drift."""
    from autoport import estimators
    from autoport.optimize import Objective
    from autoport.risk import var_backtest
    from autoport.strategies import STRATEGIES
    from autoport_cli import choices

    assert choices.STRATEGIES == tuple(sorted(STRATEGIES))
    assert choices.OBJECTIVES == tuple(o.value for o in Objective)
    assert all(Objective.parse(a).value in choices.OBJECTIVES for a in choices.OBJECTIVE_ALIASES)
    assert choices.RETURN_MODELS == tuple(estimators.RETURN_MODELS)
    assert choices.RISK_MODELS == tuple(estimators.RISK_MODELS)
    assert choices.VAR_BACKTEST_MODELS == tuple(var_backtest.BACKTEST_MODELS)
    assert choices.VAR_BACKTEST_WINDOW == var_backtest.DEFAULT_WINDOW
    from autoport.backtest import ENGINES
    from autoport.risk.config import METHOD_CHOICES
    from autoport.risk.var import SAMPLERS

    assert choices.VAR_METHODS == METHOD_CHOICES
    assert choices.SAMPLERS == tuple(SAMPLERS)
    assert choices.ENGINES == tuple(ENGINES)


@pytest.mark.parametrize("command", ["backtest", "optimize", "stress"])
def test_unknown_choices_are_usage_errors_listing_the_values(command, tmp_path, monkeypatch):
    """A value outside a fixed set: exit 2 (Typer's usage error), the values listed."""
    from typer.testing import CliRunner

    from autoport_cli import choices
    from autoport_cli.main import app

    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path))
    args, allowed = {
        "backtest": (["--strategy", "nope"], choices.STRATEGIES),
        "optimize": (["--objective", "nope", "--no-track"], choices.OBJECTIVES),
        "stress": (["--method", "nope", "--no-track"], choices.VAR_METHODS)}[command]
    res = CliRunner().invoke(app, [command, *args])
    assert res.exit_code == 2, res.output
    assert all(f"'{v}'" in " ".join(res.output.split()) for v in allowed), res.output
    assert "Traceback" not in res.output


def test_a_missing_config_still_gets_the_cores_message(tmp_path, monkeypatch):
    """Lazy imports keep the one-line user error and exit code 1."""
    from typer.testing import CliRunner

    from autoport_cli.main import app

    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path))
    res = CliRunner().invoke(app, ["regime", "--config", str(tmp_path / "missing.yaml"),
                                   "--no-track"])
    assert res.exit_code == 1, res.output
    assert "error:" in res.output and "Traceback" not in res.output
