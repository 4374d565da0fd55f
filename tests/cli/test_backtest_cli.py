"""End to end: `autoport backtest` through zipline, pyfolio and MLflow, and its refusals."""

from __future__ import annotations

import json
import math

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from autoport import data
from autoport_cli.main import app

KEYS = {"annual_return", "annual_volatility", "sharpe", "sortino", "calmar", "max_drawdown",
        "turnover"}


def _invoke(args):
    return CliRunner().invoke(app, args)


@pytest.mark.slow
def test_mpt_and_equal_weight_give_different_plausible_figures(home):
    result = _invoke(["backtest", "--strategy", "mpt", "--start", "2015-01-01",
                      "--end", "2016-12-31", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= {"strategy", "start", "end", "metrics", "baseline", "run_id",
                           "artifacts_dir"}
    assert report["strategy"] == "mpt"
    assert report["start"] == "2015-01-02" and report["end"] == "2016-12-30"
    mpt, base = report["metrics"], report["baseline"]
    assert set(mpt) == KEYS and set(base) == KEYS
    for figures in (mpt, base):
        assert all(math.isfinite(v) for v in figures.values())
        assert 0.03 < figures["annual_volatility"] < 0.6
        assert -0.8 < figures["max_drawdown"] < 0
        assert -3 < figures["sharpe"] < 5
        assert figures["turnover"] > 0
    assert abs(mpt["sharpe"] - base["sharpe"]) > 1e-3
    assert mpt["turnover"] > base["turnover"]  # optimised weights move more than 1/N

    folder = home / "runs"
    artifacts = next(folder.iterdir())
    assert str(artifacts) == report["artifacts_dir"]
    assert (artifacts / "tear_sheet.png").stat().st_size > 50_000
    daily = pd.read_csv(artifacts / "daily_returns.csv", index_col=0, parse_dates=True)
    sessions = data.bundled_prices().loc["2015-01-02":"2016-12-30"].index
    assert daily.index.equals(pd.DatetimeIndex(sessions, name="date"))
    # The index column is the real S&P 500, not a placeholder.
    spx = data.bundled_benchmark().pct_change().loc[sessions]
    np.testing.assert_allclose(daily["index_SP500"].to_numpy(), spx.to_numpy())
    records = [json.loads(line) for line in (artifacts / "decisions.jsonl").read_text().splitlines()]
    assert len(records) == 24  # one per month start, 2015-2016
    assert all(abs(sum(r["weights"].values()) - 1) < 1e-6 for r in records)
    assert all(max(r["weights"].values()) <= 0.25 + 1e-6 for r in records)

    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    run = mlflow.get_run(report["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.metrics["sharpe"] == pytest.approx(mpt["sharpe"])
    assert run.data.metrics["baseline_sharpe"] == pytest.approx(base["sharpe"])
    assert run.data.params["data_hash"] == data.content_hash(data.bundled_prices().loc[:"2016-12-31"])
    assert run.data.tags["mlflow.source.git.commit"]
    # Artifacts sit beside the database in the working area, not in ./mlruns.
    assert run.info.artifact_uri.startswith((home / "mlartifacts").as_uri())
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(report["run_id"])}
    assert {"tear_sheet.png", "daily_returns.csv", "config.json"} <= logged


@pytest.mark.slow
def test_rich_table_and_progress_are_printed(home):
    result = _invoke(["backtest", "--strategy", "equal_weight", "--start", "2019-01-01",
                      "--end", "2019-06-30", "--no-track"])
    assert result.exit_code == 0, result.output
    assert "S&P 500" in result.stdout and "sharpe" in result.stdout
    assert "artifacts:" in result.stdout


def _nan_prices(tmp_path):
    prices = data.bundled_prices().loc["2018-01-01":"2019-12-31", ["AAPL", "MSFT", "KO"]].copy()
    prices.iloc[100:103, 1] = np.nan
    path = tmp_path / "prices.csv"
    prices.to_csv(path)
    return path, prices.index[100].date()


def _assert_clean_failure(result, home, message):
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    runs = home / "runs"
    assert not runs.exists() or not any(runs.iterdir())
    db = home / "mlflow.db"
    if db.exists():
        mlflow.set_tracking_uri(f"sqlite:///{db}")
        assert mlflow.search_runs(search_all_experiments=True).empty


def test_nan_gap_in_user_prices_fails_cleanly(home, tmp_path):
    path, first = _nan_prices(tmp_path)
    result = _invoke(["backtest", "--prices", str(path), "--window", "60"])
    _assert_clean_failure(result, home, f"MSFT: 3 (first {first})")


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("strategy: mpt\nwindoww: 10\n", "windoww: Extra inputs are not permitted"),
        ("max_weight: 2\n", "max_weight"),
        ("strategy: [unclosed\n", "not valid YAML"),
        ("strategy: momentum\n", "unknown strategy 'momentum'"),
    ],
)
def test_broken_config_fails_cleanly(home, tmp_path, yaml_text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    result = _invoke(["backtest", "--config", str(path)])
    _assert_clean_failure(result, home, message)


def test_too_short_history_and_infeasible_cap_fail_cleanly(home, tmp_path):
    prices = data.bundled_prices().loc["2018-01-01":"2018-06-30", ["AAPL", "MSFT"]]
    path = tmp_path / "short.csv"
    prices.to_csv(path)
    result = _invoke(["backtest", "--prices", str(path)])
    _assert_clean_failure(result, home, "are needed")
    config = tmp_path / "cap.yaml"
    config.write_text("max_weight: 0.2\nwindow: 60\n")
    result = _invoke(["backtest", "--prices", str(path), "--config", str(config)])
    _assert_clean_failure(result, home, "cannot sum to 1")


@pytest.mark.slow
def test_regime_backtest_draws_its_timeline(home):
    result = _invoke(["backtest", "--strategy", "regime", "--start", "2007-01-01",
                      "--end", "2009-12-31", "--json", "--no-track"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    folder = next((home / "runs").iterdir())
    assert (folder / "regime_timeline.png").stat().st_size > 20_000
    records = [json.loads(line) for line in (folder / "decisions.jsonl").read_text().splitlines()]
    assert {r["regime"] for r in records} <= {"bull", "bear", "sideways"}
    assert report["metrics"]["sharpe"] != report["baseline"]["sharpe"]
