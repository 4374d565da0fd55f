"""MLFLOW_TRACKING_URI pointing at a real `mlflow server` (loopback, SQLite backend, served
artifacts) works unchanged: backtest, runs, promote and loading the champion."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from autoport import data
from autoport_cli.main import app

TICKERS = ["AAPL", "JPM", "XOM", "JNJ", "KO", "WMT"]
GATES = """
test_period: {start: 2021-07-01, end: 2021-12-31}
var: {window: 60}
gates:
  - {name: drawdown_within_mandate, metric: max_drawdown, comparison: ">=", threshold: -0.35}
  - {name: data_hash_matches, metric: data_hash_match, comparison: "==", threshold: 1}
"""


@pytest.mark.slow
def test_remote_tracking_server_works_unchanged(server, tmp_path, monkeypatch):
    url, served = server
    home = tmp_path / "home"
    monkeypatch.setenv("AUTOPORT_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    prices = tmp_path / "prices.csv"
    data.bundled_prices().loc["2020-06-01":"2021-12-31", TICKERS].to_csv(prices)
    runner = CliRunner()
    from mlflow import MlflowClient

    # the server is the session's: runs other tests made there are told apart by their ids
    client = MlflowClient(tracking_uri=url)
    before = {r.info.run_id for r in client.search_runs(
        [e.experiment_id for e in client.search_experiments()])}
    assert len(before) < 20  # the listing below (20 newest) shows them all
    earlier = set(served.rglob("*"))

    res = runner.invoke(app, ["backtest", "--strategy", "equal_weight", "--window", "60",
                              "--prices", str(prices), "--start", "2021-07-01",
                              "--end", "2021-12-31", "--json"])
    assert res.exit_code == 0, res.output
    run_id = json.loads(res.stdout)["run_id"]

    res = runner.invoke(app, ["runs", "--json"])
    assert res.exit_code == 0, res.output
    listing = json.loads(res.stdout)
    assert listing["tracking_uri"] == url
    listed = [r["run_id"] for r in listing["runs"]]
    assert listed[0] == run_id and sorted(listed) == sorted(before | {run_id})

    gates = tmp_path / "gates.yaml"
    gates.write_text(GATES)
    res = runner.invoke(app, ["promote", run_id, "--gates", str(gates), "--name", "remote",
                              "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert (payload["promoted"], payload["model_version"], payload["alias"]) == (
        True, "1", "champion")

    # everything went to the server: no local store, this test's artifacts under the
    # served root
    assert not (home / "mlflow.db").exists()
    names = {p.name for p in set(served.rglob("*")) - earlier}
    assert {"report.md", "config.json", "MLmodel"} <= names

    import mlflow

    mlflow.set_tracking_uri(url)
    model = mlflow.pyfunc.load_model("models:/remote@champion")
    weights = model.predict(pd.read_csv(prices, index_col=0, parse_dates=True))
    assert weights.to_numpy().tolist() == [[1 / 6] * 6]
