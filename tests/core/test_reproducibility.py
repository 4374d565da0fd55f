"""Reproducibility: a run records everything that decides its numbers, and re-running its own
logged config with the same seed gives the same metrics to the last digit."""

from __future__ import annotations

import json

import mlflow
import pytest
from typer.testing import CliRunner

from autoport import data, tracking
from autoport_cli.main import app

TICKERS = ["AAPL", "JPM", "XOM", "JNJ", "KO", "WMT"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


@pytest.mark.slow
def test_backtest_rerun_from_logged_config_is_identical(home):
    prices = home / "prices.csv"
    data.bundled_prices().loc["2020-06-01":"2021-12-31", TICKERS].to_csv(prices)
    config = home / "mpt.yaml"
    config.write_text("strategy: mpt\nwindow: 60\nobjective: max_sharpe\nmax_weight: 0.4\n"
                      "seed: 7\nstart: 2021-09-01\nend: 2021-12-31\n")
    res = CliRunner().invoke(app, ["backtest", "--config", str(config), "--prices", str(prices),
                                   "--json"])
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout)

    mlflow.set_tracking_uri(tracking.tracking_uri())
    run = mlflow.get_run(first["run_id"])
    # what decides the numbers is on the run: config, data hash, seed, code, packages
    logged = json.loads(mlflow.artifacts.load_text(f"runs:/{first['run_id']}/config.json"))
    assert logged["seed"] == 7 and logged["window"] == 60 and logged["max_weight"] == 0.4
    assert run.data.params["seed"] == "7"
    assert run.data.params["data_hash"] == data.content_hash(
        data.validate_prices(data.read_price_file(prices)))
    tags = run.data.tags
    assert tags[tracking.COMMIT_TAG] == tracking.code_version()["commit"]
    assert tags["git_dirty"] in {"true", "false"}
    assert tags["version.mlflow"] == mlflow.__version__
    assert {"version.numpy", "version.pandas", "version.zipline-reloaded",
            "version.python"} <= set(tags)

    # the logged config.json, fed back as the config file, reproduces every figure exactly
    replay = home / "replay.yaml"
    replay.write_text(json.dumps(logged))
    res = CliRunner().invoke(app, ["backtest", "--config", str(replay), "--prices", str(prices),
                                   "--json"])
    assert res.exit_code == 0, res.output
    second = json.loads(res.stdout)
    assert second["run_id"] != first["run_id"]
    assert second["metrics"] == first["metrics"]  # to the last digit, not approx
    assert second["baseline"] == first["baseline"]
    assert mlflow.get_run(second["run_id"]).data.metrics == run.data.metrics
    assert first["metrics"]["sharpe"] != 0.0 and first["metrics"]["turnover"] > 0


@pytest.mark.slow
def test_short_training_run_replays_from_its_logged_config(home):
    config = home / "dqn.yaml"
    config.write_text("seed: 3\ntimesteps: 600\n"
                      "dqn: {learning_starts: 200, buffer_size: 5000, target_update_interval: 200}\n"
                      "validation: {eval_freq: 300, patience: 2}\n")
    res = CliRunner().invoke(app, ["train-agent", "--config", str(config), "--json"])
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout)

    mlflow.set_tracking_uri(tracking.tracking_uri())
    run = mlflow.get_run(first["run_id"])
    logged = json.loads(mlflow.artifacts.load_text(f"runs:/{first['run_id']}/config.json"))
    assert logged["seed"] == 3 and logged["timesteps"] == 600
    assert run.data.tags["command"] == "train-agent"
    assert run.data.tags[tracking.COMMIT_TAG] == tracking.code_version()["commit"]
    assert run.data.params["data_hash"] == data.content_hash(data.bundled_prices())

    replay = home / "replay.yaml"
    replay.write_text(json.dumps(logged))
    res = CliRunner().invoke(app, ["train-agent", "--config", str(replay), "--json"])
    assert res.exit_code == 0, res.output
    second = json.loads(res.stdout)
    assert second["run_id"] != first["run_id"]
    for key in ("success_rate", "sharpe", "max_drawdown", "episodes", "best_step",
                "action_distribution"):
        assert second[key] == first[key], key  # exact, not approx
    # every logged metric but the wall-clock time is identical
    metrics_again = mlflow.get_run(second["run_id"]).data.metrics
    timing = {"wall_seconds"}
    assert set(metrics_again) == set(run.data.metrics)
    assert {k: v for k, v in metrics_again.items() if k not in timing} == {
        k: v for k, v in run.data.metrics.items() if k not in timing}
