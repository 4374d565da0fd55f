"""Backtest sweeps end to end on the bundled prices, on a local 2-CPU Ray.

Trials see the validation period only: replacing every price after it with another future
leaves the leaderboard identical, while the one test run changes.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from autoport import configfile, data
from autoport.backtest import BacktestConfig
from autoport.strategies import make_strategy
from autoport.sweep.backtest_target import sweep_backtest
from autoport.sweep.spec import SweepSpec

pytestmark = pytest.mark.slow
pytest.importorskip("ray")

SPEC = {
    "target": "backtest", "strategy": "mpt", "metric": "sharpe", "search": "grid",
    "space": {"window": {"grid": [63, 126]}, "max_weight": {"grid": [0.2, 0.5]}},
    "validation": {"start": "2012-01-01", "end": "2013-12-31"},
    "test": {"start": "2014-01-01", "end": "2014-12-31"},
}


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return data.bundled_prices().loc["2010-06-01":"2014-12-31"].iloc[:, :6]


def _other_future(prices: pd.DataFrame, after: str) -> pd.DataFrame:
    """The same past; after ``after``, a different random walk from the last seen close."""
    rng = np.random.default_rng(9)
    future = prices.index > pd.Timestamp(after)
    steps = np.exp(rng.normal(0.0, 0.02, size=(future.sum(), prices.shape[1])))
    out = prices.copy()
    out.loc[future] = prices.loc[~future].iloc[-1].to_numpy() * np.cumprod(steps, axis=0)
    return out


def test_a_sweep_picks_on_validation_and_tests_once(local_ray, prices, tmp_path):
    spec = configfile.validate(SweepSpec, SPEC, "spec")
    report = sweep_backtest(spec, {"rebalance": "month_start"}, prices,
                            make_strategy=make_strategy, index_levels=None,
                            storage=tmp_path, name="real")
    board = report.result.leaderboard()
    assert len(board) == 4 and (board["status"] == "ok").all()
    assert board["sharpe"].is_monotonic_decreasing
    # the chosen settings are the leaderboard's first row, applied to the base config
    best = board.iloc[0]
    assert report.chosen.window == best["param.window"]
    assert report.chosen.max_weight == best["param.max_weight"]
    assert (report.test.start.year, report.test.end.year) == (2014, 2014)
    # the fast engine and zipline agree on the chosen settings' test period
    assert report.test_fast["sharpe"] == pytest.approx(
        report.test.strategy.metrics["sharpe"], abs=1e-6)
    m = report.metrics()
    assert 0.0 <= m["deflated_sharpe"] <= 1.0 and 0.0 <= m["pbo"] <= 1.0

    moved = sweep_backtest(spec, {"rebalance": "month_start"},
                           _other_future(prices, "2013-12-31"), make_strategy=make_strategy,
                           index_levels=None, storage=tmp_path, name="moved")
    pd.testing.assert_frame_equal(board.drop(columns=["trial_id", "node"]),
                                  moved.result.leaderboard().drop(columns=["trial_id", "node"]))
    assert moved.test.strategy.metrics["sharpe"] != report.test.strategy.metrics["sharpe"]


def test_the_cli_writes_the_leaderboard_the_chosen_config_and_a_parent_run(
        local_ray, home, tmp_path):
    from typer.testing import CliRunner

    from autoport_cli.main import app

    panel = data.bundled_prices().loc["2010-06-01":"2014-12-31"].iloc[:, :6]
    prices_file = tmp_path / "prices.csv"
    panel.to_csv(prices_file)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump({**SPEC, "space": {"window": {"grid": [63, 126]}}}))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(spec_file), "--prices", str(prices_file),
                                      "--num-cpus", "2", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert len(pd.read_csv(out / "leaderboard.csv")) == 2
    chosen = yaml.safe_load((out / "chosen_config.yaml").read_text())
    cfg = configfile.validate(BacktestConfig, chosen, "chosen_config.yaml")  # accepted back
    assert cfg.window == payload["winner"]["window"]
    assert (out / "sweep.png").stat().st_size > 10_000

    from mlflow import MlflowClient

    client = MlflowClient()
    children = client.search_runs(
        [client.get_experiment_by_name("sweeps").experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{payload['run_id']}'")
    assert len(children) == 2
    assert {c.data.tags["status"] for c in children} == {"ok"}
    # the chosen config links back to this sweep (in the folder and in the run's artifacts),
    # and a backtest of it carries the link as a tag for `autoport promote`'s DSR/PBO gates
    assert chosen["sweep_run_id"] == payload["run_id"]
    logged = yaml.safe_load(open(client.download_artifacts(payload["run_id"],
                                                           "chosen_config.yaml")))
    assert logged["sweep_run_id"] == payload["run_id"]
    res = CliRunner().invoke(app, ["backtest", "--config", str(out / "chosen_config.yaml"),
                                   "--prices", str(prices_file), "--engine", "sim", "--json"])
    assert res.exit_code == 0, res.output
    run = client.get_run(json.loads(res.stdout)["run_id"])
    assert run.data.tags["sweep.parent"] == payload["run_id"]


def test_a_bad_spec_exits_1_with_one_message_and_writes_nothing(tmp_path):
    from typer.testing import CliRunner

    from autoport_cli.main import app

    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump({**SPEC, "space": {"windw": {"grid": [63]}}}))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(spec_file), "--out", str(out), "--no-track"])
    assert result.exit_code == 1
    assert "space key 'windw'" in result.output and "Traceback" not in result.output
    assert not out.exists()
