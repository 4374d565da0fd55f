"""Issue 17 item 4: SIGTERM or a failure while a run is logged to MLflow leaves no RUNNING run
and no folder (hidden staging or complete-but-untracked), and always says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from autoport import data
from autoport_cli.main import app


def _prices(tmp_path) -> Path:
    path = tmp_path / "p.csv"
    data.bundled_prices().loc["2018-01-01":"2019-06-28", ["AAPL", "KO", "XOM"]].to_csv(path)
    return path


def _args(tmp_path, command):
    if command == "optimize":
        return ["optimize", "--prices", str(_prices(tmp_path)), "--window", "all",
                "--frontier-points", "0"]
    return ["stress", "--prices", str(_prices(tmp_path)), "--method", "parametric",
            "--backtest-window", "100"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One working area for the module: creating an MLflow store costs seconds each time."""
    path = tmp_path_factory.mktemp("interrupted") / "home"
    saved = {k: os.environ.get(k) for k in ("AUTOPORT_HOME", "MLFLOW_TRACKING_URI")}
    os.environ["AUTOPORT_HOME"] = str(path)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield path
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _newest_status(home: Path, experiment: str) -> str | None:
    client = MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"])
    assert all(r.info.status != "RUNNING" for r in runs)
    return runs[0].info.status if runs else None


def _left_in(home: Path) -> list[str]:
    runs = home / "runs"
    return sorted(p.name for p in runs.iterdir()) if runs.exists() else []


@pytest.mark.parametrize("command", ["optimize", "stress"])
def test_a_failing_logger_keeps_nothing_and_says_so(tmp_path, store, monkeypatch, command):
    home = store
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mlflow, "log_artifacts", broken)
    res = CliRunner().invoke(app, _args(tmp_path, command))
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert "could not log the run to MLflow" in text and "No space left on device" in text
    assert "Traceback" not in res.output
    assert _left_in(home) == []  # before: a complete folder and no run, nothing printed
    assert _newest_status(home, command) == "FAILED"


def test_an_interrupt_while_logging_ends_the_run_killed(tmp_path, store, monkeypatch):
    home = store
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mlflow, "log_artifacts", interrupted)
    res = CliRunner().invoke(app, _args(tmp_path, "optimize"))
    assert res.exit_code == 130, res.output
    assert "interrupted (Ctrl-C)" in res.output
    assert _left_in(home) == []
    assert _newest_status(home, "optimize") == "KILLED"


SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import mlflow

    marker = Path(sys.argv[1])

    def slow(*args, **kwargs):  # a long artifact upload; SIGTERM arrives during it
        marker.write_text("logging")
        time.sleep(60)

    mlflow.log_artifacts = slow
    from autoport_cli.main import app
    app(sys.argv[2:])
""")


@pytest.mark.slow  # a fresh interpreter importing the CLI stack: ~40 s on a loaded 2-core box
def test_sigterm_while_logging_removes_staging_and_ends_the_run_killed(tmp_path, store):
    home = store
    marker = tmp_path / "marker"
    env = {**os.environ, "AUTOPORT_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(marker), *_args(tmp_path, "optimize")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the command never reached MLflow logging"
        time.sleep(0.1)
    assert any(p.name.startswith(".") for p in (home / "runs").iterdir())  # staging exists
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted (SIGTERM)" in err and "Traceback" not in err
    assert _left_in(home) == []
    assert _newest_status(home, "optimize") == "KILLED"
