"""``autoport walk-forward`` end to end on a short bundled period, on a local 2-CPU Ray, and its
refusals (one message, exit 1, nothing written)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from autoport import data
from autoport.backtest import BacktestConfig
from autoport.strategies import make_strategy
from autoport.walkforward import WalkForwardSettings, plan
from autoport.walkforward.run import run_fold
from autoport_cli.main import app

ARGS = ["--strategy", "mpt", "--start", "2010-01-01", "--end", "2012-12-31", "--groups", "4",
        "--purge", "5", "--embargo", "5"]


@pytest.mark.slow
def test_walk_forward_cli_end_to_end(local_ray, home, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["walk-forward", *ARGS, "--num-cpus", "2", "--out",
                                      str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert len(payload["folds"]) == 6  # C(4, 2)
    for name in ("mpt", "1/N"):
        s = payload["summary"][name]
        assert s["folds"] == 6 and s["q25"] <= s["median"] <= s["q75"]
    sharpes = pd.read_csv(out / "fold_sharpes.csv", index_col="fold")
    assert sharpes["mpt"].median() == pytest.approx(payload["summary"]["mpt"]["median"])
    assert (out / "fold_sharpes.png").stat().st_size > 10_000
    # a fold's figures from Ray equal the same fold computed here, in process
    panel = data.bundled_prices().loc["2010-01-01":"2012-12-31"]
    cfg = BacktestConfig(strategy="mpt")
    layout = plan(len(panel), WalkForwardSettings(groups=4, purge=5, embargo=5),
                  make_strategy("mpt").min_history)
    here = run_fold(panel, layout.folds[2], layout.warmup, 5, cfg, make_strategy)
    assert sharpes.loc[2, "mpt"] == pytest.approx(here.strategy["sharpe"], rel=1e-12)
    assert sharpes.loc[2, "1/N"] == pytest.approx(here.baseline["sharpe"], rel=1e-12)

    from mlflow import MlflowClient

    client = MlflowClient()
    parent = client.get_run(payload["run_id"])
    assert parent.data.tags["command"] == "walk-forward"
    assert parent.data.metrics["strategy_sharpe_median"] == pytest.approx(
        payload["summary"]["mpt"]["median"])
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{payload['run_id']}'")
    assert len(children) == 6
    assert {round(c.data.metrics["strategy_sharpe"], 9) for c in children} == {
        round(v, 9) for v in sharpes["mpt"]}


@pytest.mark.parametrize("extra, message", [
    (["--strategy", "mpt", "--start", "2012-01-01", "--end", "2012-10-31"], "too few"),
    # 2005-2012: 2,015 sessions, 274 of warm-up, groups of 290; 200 + 100 >= 289
    (["--strategy", "mpt", "--start", "2005-01-01", "--end", "2012-12-31", "--purge", "200",
      "--embargo", "100"], "embargo"),
    (["--strategy", "mpt", "--scheme", "rolling", "--test", "21", "--embargo", "21"],
     "embargo"),
])
def test_bad_input_exits_1_with_one_message_and_writes_nothing(extra, message, home, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["walk-forward", *extra, "--no-track", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert result.output.count("error:") == 1
    assert not out.exists()


@pytest.mark.parametrize("extra, value", [
    (["--strategy", "momentum"], "momentum"),
    (["--strategy", "mpt", "--scheme", "weekly"], "weekly"),
])
def test_a_bad_choice_is_a_usage_error_listing_the_values(extra, value, home, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["walk-forward", *extra, "--no-track", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert value in result.output and "Traceback" not in result.output
    assert not out.exists()
