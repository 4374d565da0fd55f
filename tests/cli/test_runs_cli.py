"""`autoport runs`: the latest MLflow runs with key metrics, newest first, filterable."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from autoport import tracking
from autoport_cli.main import app


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def log(experiment: str, name: str, sharpe: float, command: str) -> str:
    return tracking.log_run(
        experiment, run_name=name, params={"seed": 1},
        metrics={"sharpe": sharpe, "max_drawdown": -0.125, "annual_return": 0.0842},
        tags={"command": command},
    )


def test_runs_lists_newest_first_with_metrics(home):
    res = CliRunner().invoke(app, ["runs"])
    assert res.exit_code == 0 and "no runs yet" in res.stdout
    first = log("backtests", "mpt-a", 1.2345, "backtest")
    second = log("backtests", "eq-b", 0.5, "backtest")
    other = log("agents", "dqn-c", 0.75, "train-agent")

    res = CliRunner().invoke(app, ["runs", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["runs"]
    assert [r["run_id"] for r in rows] == [other, second, first]
    assert rows[2]["metrics"]["sharpe"] == 1.2345
    assert rows[2]["experiment"] == "backtests" and rows[2]["tags"]["command"] == "backtest"
    assert rows[2]["tags"][tracking.COMMIT_TAG] == tracking.code_version()["commit"]
    assert rows[0]["status"] == "FINISHED"

    res = CliRunner().invoke(app, ["runs", "--experiment", "backtests", "--limit", "1", "--json"])
    assert [r["run_id"] for r in json.loads(res.stdout)["runs"]] == [second]

    res = CliRunner(env={"COLUMNS": "160"}).invoke(app, ["runs", "--experiment", "backtests"])
    assert res.exit_code == 0, res.output
    assert first in res.stdout and second in res.stdout and other not in res.stdout
    assert "1.234" in res.stdout and "-12.5%" in res.stdout and "8.4%" in res.stdout

    res = CliRunner().invoke(app, ["runs", "--experiment", "nope"])
    assert res.exit_code == 1
    assert "no MLflow experiment named 'nope'" in res.output and "backtests" in res.output
    assert "Traceback" not in res.output
