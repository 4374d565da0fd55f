"""Ctrl-C during a sweep, then ``--resume``: the parent run ends KILLED with no child RUNNING,
and the resumed sweep's leaderboard is the one an uninterrupted sweep gets.

The interrupted sweep runs the CLI in a child process. That process sends itself SIGINT (what
Ctrl-C sends) from a Tune callback once the second trial has completed, so the signal lands
while the driver is still inside the search whatever the machine's speed (watching for result
files from outside and signalling needed many slow trials: on a quiet machine a short search
had finished first). The resumed and the uninterrupted sweeps run in this process on the
shared local Ray. The trials are MPT backtests of two years of monthly decisions on six assets.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from autoport import data

pytestmark = pytest.mark.slow
pytest.importorskip("ray")

SPEC = {
    "target": "backtest", "strategy": "mpt", "metric": "sharpe", "search": "grid",
    # 8 trials on 2 workers: when the second completes, at most two more can have finished,
    # so at least four are left for --resume (12 took ~6 s more, over 3 sweeps, for no more cover)
    "space": {"window": {"grid": list(range(20, 100, 10))}},
    "validation": {"start": "2012-01-01", "end": "2013-12-31"},
    "test": {"start": "2014-01-01", "end": "2014-06-30"},
}
SIGINT_AFTER = 2
# The CLI as `autoport` runs it, plus a Tune callback (Ray's public API, added to the run
# config the sweep builds) that sends this process SIGINT once SIGINT_AFTER trials completed.
CLI = f"""
import os, signal, sys
from ray import tune

class CtrlC(tune.Callback):
    # Tune saves the run config with the sweep's state, so --resume restores this callback
    # in the test's process: it fires only in the process that made it
    def __init__(self):
        self.pid, self.done = os.getpid(), 0

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done += 1
        if self.done == {SIGINT_AFTER} and os.getpid() == self.pid:
            os.kill(self.pid, signal.SIGINT)

init = tune.Tuner.__init__

def with_ctrl_c(self, *args, run_config, **kwargs):
    run_config.callbacks = [*(run_config.callbacks or []), CtrlC()]
    init(self, *args, run_config=run_config, **kwargs)

tune.Tuner.__init__ = with_ctrl_c
from autoport_cli.main import app
sys.argv[0] = "autoport"
app()
"""


def test_ctrl_c_kills_the_parent_run_and_resume_gives_the_uninterrupted_leaderboard(
        local_ray, home, tmp_path):
    from autoport_cli.main import app

    panel = data.bundled_prices().loc["2011-01-03":"2014-06-30"].iloc[:, :6]
    prices_file = tmp_path / "prices.csv"
    panel.to_csv(prices_file)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(SPEC))
    args = ["sweep", str(spec_file), "--prices", str(prices_file), "--num-cpus", "2",
            "--out", str(tmp_path / "out")]
    env = {**os.environ, "AUTOPORT_HOME": str(home), "OMP_NUM_THREADS": "1"}
    child = subprocess.run([sys.executable, "-c", CLI, *args], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
    err = child.stderr
    assert child.returncode == 130, err[-3000:]
    assert "--resume" in err and "Traceback" not in err
    total = len(SPEC["space"]["window"]["grid"])
    done = int(re.search(r"interrupted after (\d+) of (\d+) trials", err).group(1))
    assert SIGINT_AFTER <= done < total, err[-3000:]  # the signal landed mid-search
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
    assert len(pd.read_csv(tmp_path / "out" / "leaderboard.csv")) == total
