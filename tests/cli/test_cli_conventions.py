"""What every command's options follow (issues 17.16 and 18.10): defaults shown, no ``<bool>``
for flags, ``--track/--no-track`` wherever a run is logged, ``--version``, shell completion, and
the defaults --help states equal the config models' own."""

from __future__ import annotations

import json
import re
from importlib.metadata import version

import pytest
import typer
from typer.testing import CliRunner

from autoport_cli.main import app

COMMANDS = ("backtest", "stress", "optimize", "train-agent", "promote", "runs", "regime", "sweep")
TRACKING = ("backtest", "stress", "optimize", "train-agent", "regime", "sweep")


def _flat(text: str) -> str:
    """Help text with the box drawing and line wrapping removed."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def _help(*args: str) -> str:
    res = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return _flat(res.output)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_states_its_default(command):
    """Each option that takes a value has a default in --help (a value, or what it means when
    not given, e.g. "the bundled data"); flags need none."""
    cmd = typer.main.get_command(app).commands[command]
    missing = [p.opts[0] for p in cmd.params
               if isinstance(p, typer.core.TyperOption) and not p.is_flag
               and p.default is None and not isinstance(p.show_default, str)]
    assert missing == [], f"{command}: no default shown for {missing}"
    text = _help(command)
    options = [p for p in cmd.params if isinstance(p, typer.core.TyperOption) and not p.is_flag]
    assert text.count("[default:") >= len(options), text


@pytest.mark.parametrize("command", ("", *COMMANDS))
def test_flags_show_no_bool_type(command):
    text = _help(*([command] if command else []))
    assert "<bool>" not in text and "--help" in text


@pytest.mark.parametrize("command", TRACKING)
def test_track_and_no_track_on_every_tracking_command(command):
    assert "--track --no-track log" in _help(command)


def test_defaults_in_help_are_the_config_defaults():
    """``autoport_cli.choices`` copies the config models' defaults (for a light --help)."""
    from autoport.backtest import BacktestConfig
    from autoport.optimize.config import OptimizeConfig
    from autoport.risk.config import StressConfig
    from autoport.strategies.dqn.config import AgentConfig
    from autoport_cli import choices

    for copy, model in ((choices.BACKTEST, BacktestConfig), (choices.OPTIMIZE, OptimizeConfig),
                        (choices.STRESS, StressConfig), (choices.AGENT, AgentConfig)):
        fields = model.model_fields
        assert {k: fields[k].default for k in copy} == copy, model.__name__
    assert "[default: max_sharpe]" in _help("optimize")
    assert "[default: 100000]" in _help("stress")


def test_version():
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.output.strip() == f"autoport {version('autoport')}"


def test_shell_completion_is_on_and_offers_the_choices():
    """The installer option appears, and bash completion (what the installed script asks)
    offers an enum's values for --objective."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    assert "--install-completion" in _help()
    exe = shutil.which("autoport", path=str(Path(sys.executable).parent))
    env = {**os.environ, "_AUTOPORT_COMPLETE": "complete_bash",
           "COMP_WORDS": "autoport optimize --objective max_", "COMP_CWORD": "3"}
    done = subprocess.run([exe], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["max_sharpe", "max_utility", "max_quadratic_utility"]


@pytest.mark.parametrize("args", [["promote", "--list"], ["runs"]])
def test_json_envelope_on_commands_without_a_run(args, home):
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["run_id"] is None and payload["artifacts_dir"] is None
