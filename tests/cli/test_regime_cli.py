"""``autoport regime`` end to end: JSON shape, files, MLflow model artifact, user errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from autoport.regime.config import load_config
from autoport.regime.features import build_features
from autoport.regime.hmm import fit_from_dict, online_regimes
from autoport.synthetic import regime_switching_prices
from autoport_cli import regime as regime_cli

CONFIG = """
detector: {use: hmm_market_3, returns: assets, min_train: 300, refit_every: 200, n_restarts: 2}
strategy:
  regimes:
    bull: {objective: max_sharpe}
    sideways: {objective: min_volatility}
    bear: {objective: min_volatility, max_weight: 0.2, window: 63}
"""


@pytest.fixture()
def app():
    app = typer.Typer()
    app.command("regime")(regime_cli.regime)
    app.command("noop")(lambda: None)  # a second command keeps `regime` a sub-command
    return app


@pytest.fixture()
def files(tmp_path):
    prices, labels = regime_switching_prices(800, seed=5)
    frame = prices.copy()
    frame["regime"] = labels.reindex(prices.index).fillna("bull")
    path = tmp_path / "prices.csv"
    frame.to_csv(path, index_label="date")
    cfg = tmp_path / "regime.yaml"
    cfg.write_text(CONFIG)
    return prices, labels, path, cfg


def test_regime_json_files_and_mlflow_model(app, files, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    prices, labels, path, cfg = files
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["regime", "--prices", str(path), "--config", str(cfg),
                                   "--as-of", "2002-12-31", "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    # the same computation done directly gives the same current regime and history
    cut = prices.loc[:"2002-12-31"]
    direct = online_regimes(build_features(cut, returns="assets"), min_train=300,
                            refit_every=200, n_restarts=2, tol=1e-2,
                            transmat_prior=load_config().candidate("hmm_market_3").transmat_prior)
    assert payload["as_of"] == "2002-12-31"
    assert payload["current_regime"] == direct.labels.iloc[-1]
    assert payload["confidence"] == pytest.approx(direct.confidence.iloc[-1])
    assert len(payload["regime_history"]) == len(direct.labels) == len(cut) - 1 - 300
    assert payload["regime_history"][0]["date"] == str(direct.labels.index[0].date())
    true = labels.reindex(direct.labels.index)
    assert payload["accuracy"]["true_labels"]["agreement"] == pytest.approx(
        float((direct.labels == true).mean())
    )
    assert payload["accuracy"]["reference"] == "equal-weight index of the given prices"
    for name in ("report.json", "model.json", "model.pkl", "regimes.csv",
                 "regime_timeline.png"):
        assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "regimes.csv", index_col=0)
    assert list(table.columns) == ["bull", "bear", "sideways", "regime", "acted", "reference",
                                   "in_sample_smoothed_last_model"]
    assert (table["regime"].to_numpy() == direct.labels.to_numpy()).all()
    # the model file rebuilds a detector that filters exactly like the run's last fit
    rebuilt = fit_from_dict(json.loads((out / "model.json").read_text()))
    feats = build_features(cut, returns="assets")
    again = rebuilt.filter(feats)
    pd.testing.assert_series_equal(
        again.iloc[-1], direct.last_fit.filter(feats).iloc[-1], check_exact=False, atol=1e-10
    )
    # logged to MLflow with the model as an artifact
    import mlflow

    from autoport import tracking

    mlflow.set_tracking_uri(tracking.tracking_uri())
    run = mlflow.get_run(payload["run_id"])
    assert run.data.params["current_regime"] == payload["current_regime"]
    assert run.data.metrics["accuracy_true_labels"] == pytest.approx(
        payload["accuracy"]["true_labels"]["agreement"]
    )
    names = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"model.json", "regime_timeline.png", "report.json"} <= names


def test_regime_refuses_a_bad_config_with_the_fix(app, files, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path / "home"))
    _, _, path, cfg = files
    cfg.write_text(CONFIG.replace("n_restarts: 2", "n_restart: 2"))
    res = CliRunner().invoke(app, ["regime", "--prices", str(path), "--config", str(cfg),
                                   "--no-track"])
    assert res.exit_code == 1
    assert "n_restart" in res.output and "Extra inputs are not permitted" in res.output
    assert not (tmp_path / "home" / "runs").exists()


def test_sentiment_column_becomes_a_feature_not_an_asset(app, files, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path / "home"))
    prices, _, path, cfg = files
    frame = pd.read_csv(path, index_col=0)
    rng = pd.Series(range(len(frame)), index=frame.index, dtype=float)
    frame["Sentiment"] = (rng % 7 - 3.0) / 3.0  # negative values: would fail as a price
    frame.to_csv(path)
    res = CliRunner().invoke(app, ["regime", "--prices", str(path), "--config", str(cfg),
                                   "--json", "--no-track", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["model"]["features"] == [f"ret:{c}" for c in prices.columns] + ["Sentiment"]
    assert payload["run_id"] is None


def test_a_backtest_reuses_the_logged_model_by_run_id_and_refuses_its_training_dates(
    app, files, tmp_path, monkeypatch
):
    from autoport.errors import ConfigError, DataError, TrackingError
    from autoport.regime.logged import load_logged_model, parse_run_id
    from autoport.strategies.regime_switching import RegimeSwitching

    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    prices, _, path, cfg = files
    res = CliRunner().invoke(app, ["regime", "--prices", str(path), "--config", str(cfg),
                                   "--as-of", "2002-06-28", "--json", "--out",
                                   str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    run_id = json.loads(res.stdout)["run_id"]
    logged = load_logged_model(f"runs:/{run_id}/model.json")
    assert logged.run_id == run_id and logged.detector.returns == "assets"
    strat = RegimeSwitching(config=cfg, model_uri=run_id)
    later = prices.loc[:"2003-01-31"]
    d = strat.decide(later)
    assert d.details["model_run"] == run_id and strat.fits == 0  # used as is, never refitted
    # the probabilities are the logged model's own forward filter over the history
    expected = logged.fit.filter(build_features(later, returns="assets")).iloc[-1]
    assert d.details["probabilities"] == pytest.approx(expected.to_dict(), abs=1e-12)
    # the last fit was trained before its refit segment, not to --as-of; its own dates are refused
    trained_to = logged.fit.train_end
    assert trained_to < pd.Timestamp("2002-06-28")
    with pytest.raises(DataError, match=f"trained on data to {trained_to.date()}.*look ahead"):
        RegimeSwitching(config=cfg, model_uri=run_id).decide(prices.loc[:trained_to])
    with pytest.raises(TrackingError, match="no MLflow run '0123456789abcdef'.*autoport regime"):
        load_logged_model("0123456789abcdef")
    with pytest.raises(ConfigError, match="not a regime run"):
        parse_run_id("models:/x@champion")
