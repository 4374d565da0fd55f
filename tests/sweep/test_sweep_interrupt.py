"""Ctrl-C during a sweep, then ``--resume``: the parent run ends KILLED with no child RUNNING,
and the resumed sweep's leaderboard is the one an uninterrupted sweep gets.

The interrupted sweep runs the CLI in a child process, sent SIGINT (what Ctrl-C sends) once
the first trial has reported; the resumed and the uninterrupted sweeps run in this process on
the shared local Ray. The trials are MPT backtests of eight years of monthly decisions on six assets (about a
second each).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from autoport import data

pytestmark = pytest.mark.slow
pytest.importorskip("ray")

SPEC = {
    "target": "backtest", "strategy": "mpt", "metric": "sharpe", "search": "grid",
    # 60 trials on 2 workers: the signal, sent once the first has reported, lands while most
    # are still to run (with 10 a quiet machine had finished them all first; with two years of
    # validation, once MPT's solves were warm-started, all 60 finished before the signal)
    "space": {"window": {"grid": list(range(20, 140, 2))}},
    "validation": {"start": "2006-01-01", "end": "2013-12-31"},
    "test": {"start": "2014-01-01", "end": "2014-06-30"},
}
CLI = "import sys; from autoport_cli.main import app; sys.argv[0] = 'autoport'; app()"


def _first_trial_done(root) -> bool:
    return any(p.name == "result.json" and p.stat().st_size > 0 for p in root.rglob("result.json"))


def test_ctrl_c_kills_the_parent_run_and_resume_gives_the_uninterrupted_leaderboard(
        local_ray, home, tmp_path):
    from autoport_cli.main import app

    panel = data.bundled_prices().loc["2005-03-01":"2014-06-30"].iloc[:, :6]
    prices_file = tmp_path / "prices.csv"
    panel.to_csv(prices_file)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(SPEC))
    args = ["sweep", str(spec_file), "--prices", str(prices_file), "--num-cpus", "2",
            "--out", str(tmp_path / "out")]
    env = {**os.environ, "AUTOPORT_HOME": str(home), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", CLI, *args], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (home / "ray_results").exists() or not _first_trial_done(home / "ray_results"):
            assert child.poll() is None, child.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no trial finished in 240 s"
            time.sleep(0.2)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, err[-3000:]
    assert "--resume" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing half-written

    from mlflow import MlflowClient

    from autoport import tracking

    tracking._client()
    client = MlflowClient()
    experiment = client.get_experiment_by_name("sweeps").experiment_id
    runs = client.search_runs([experiment])
    assert [r.info.status for r in runs if r.data.tags.get("sweep.role") == "parent"] == [
        "KILLED"]
    assert not [r for r in runs if r.info.status == "RUNNING"]

    resumed = CliRunner().invoke(app, [*args, "--resume", "--json"])
    assert resumed.exit_code == 0, resumed.output
    (tmp_path / "again.yaml").write_text(yaml.safe_dump(SPEC))  # another name: a fresh sweep
    fresh = CliRunner().invoke(app, ["sweep", str(tmp_path / "again.yaml"), "--prices",
                                     str(prices_file), "--out", str(tmp_path / "fresh"),
                                     "--no-track", "--json"])
    assert fresh.exit_code == 0, fresh.output
    drop = ["trial_id", "node"]
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "out" / "leaderboard.csv").drop(columns=drop),
        pd.read_csv(tmp_path / "fresh" / "leaderboard.csv").drop(columns=drop))
    assert len(pd.read_csv(tmp_path / "out" / "leaderboard.csv")) == len(SPEC["space"]["window"]["grid"])
