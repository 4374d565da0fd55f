"""A sweep on a two-node Ray cluster given by address, tracked on a real MLflow server.

The cluster (a head and a worker node, one CPU each, on this machine through Ray's own
``ray.cluster_utils.Cluster``) and the sweep run in a fresh interpreter, so the local Ray the
other sweep tests share is not disturbed; the MLflow server is the one of
``test_promotion_server`` (loopback, stopped afterwards).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pathlib import Path

import pandas as pd
import pytest
import yaml

from autoport import data

pytestmark = pytest.mark.slow
pytest.importorskip("ray")

SCRIPT = r"""
import json, sys
from ray.cluster_utils import Cluster
from typer.testing import CliRunner
from autoport_cli.main import app

cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
cluster.add_node(num_cpus=1)
try:
    result = CliRunner().invoke(app, ["sweep", sys.argv[1], "--prices", sys.argv[2],
                                      "--address", cluster.address, "--out", sys.argv[3],
                                      "--json"])
    print(json.dumps({"exit_code": result.exit_code, "stdout": result.stdout,
                      "output": result.output[-3000:]}))
finally:
    cluster.shutdown()
"""


def test_a_sweep_on_a_two_node_cluster_reaches_both_nodes_and_the_server(
        server, tmp_path):  # noqa: F811
    url, _ = server
    panel = data.bundled_prices().loc["2005-03-01":"2014-12-31"].iloc[:, :6]
    prices = tmp_path / "prices.csv"
    panel.to_csv(prices)
    spec = tmp_path / "spec.yaml"
    # Tune hands a pending trial to an idle actor (reuse_actors) rather than wait for the
    # actor it started for it, so one node runs them all if its actor gets through every
    # trial before the other node's actor is up: six trials of two years (0.1 s each once
    # pyfolio left the trial's imports) did; twelve of eight years (0.3-1.5 s each) outlast
    # the skew between the two actors' starts.
    spec.write_text(yaml.safe_dump({
        "target": "backtest", "strategy": "mpt", "metric": "sharpe", "search": "grid",
        "space": {"window": {"grid": list(range(40, 160, 10))}},
        "validation": {"start": "2006-01-01", "end": "2013-12-31"},
        "test": {"start": "2014-01-01", "end": "2014-12-31"}}))
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "MLFLOW_TRACKING_URI": url, "AUTOPORT_HOME": str(tmp_path / "home")}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, str(script), str(spec), str(prices),
                           str(tmp_path / "out")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["exit_code"] == 0, outcome["output"]
    payload = json.loads(outcome["stdout"])
    board = pd.read_csv(Path(payload["artifacts_dir"]) / "leaderboard.csv")
    assert len(board) == 12 and set(board["status"]) == {"ok"}
    assert board["node"].nunique() == 2  # trials ran on both nodes

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    parent = client.get_run(payload["run_id"])
    assert parent.data.tags["command"] == "sweep"
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{payload['run_id']}'")
    assert len(children) == 12
