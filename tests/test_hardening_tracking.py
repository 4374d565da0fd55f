"""The tracking store: created once when runs start together; a dead server fails fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = r'''
from autoport import tracking
run_id = tracking.log_run("autoport-race", run_name="race", params={"a": 1}, metrics={"m": 1.0})
print(run_id)
'''


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update({"AUTOPORT_HOME": str(home), "PYTHONWARNINGS": "ignore", **extra})
    return env


def test_two_tracked_runs_started_together_on_a_new_store_both_succeed(tmp_path):
    """Before the store was created under a lock this failed in 2 of 2 tries (schema races)."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    home = tmp_path / "home"
    runs = [
        subprocess.Popen([sys.executable, str(script)], env=_env(home), text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [r.communicate(timeout=300) for r in runs]
    for run, (out, err) in zip(runs, results, strict=True):
        assert run.returncode == 0, err[-3000:]
        assert len(out.strip()) == 32
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("autoport-race")
    found = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_id for r in found) == sorted(out.strip() for out, _ in results)
