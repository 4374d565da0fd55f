"""``autoport optimize`` end to end through Typer's CliRunner, in a temporary AUTOPORT_HOME."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from pypfopt import EfficientFrontier
from typer.testing import CliRunner

from autoport import estimators as E
from autoport.data import bundled_prices
from autoport_cli import optimize as cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    app = typer.Typer()
    app.command("optimize")(cli.optimize)

    @app.callback()
    def _root() -> None:  # keep "optimize" as a sub-command
        pass

    return app


def run(app, *args):
    result = CliRunner().invoke(app, ["optimize", *args])
    return result


def test_json_output_matches_pypfopt_and_writes_artifacts(app, tmp_path):
    out = tmp_path / "run1"
    res = run(app, "--objective", "max_sharpe", "--risk-free", "0.02", "--window", "504",
              "--max-weight", "1",
              "--frontier-points", "30", "--json", "--out", str(out), "--no-track")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert set(payload) >= {"objective", "weights", "expected_return", "expected_volatility",
                            "sharpe_ratio", "efficient_frontier"}
    assert len(payload["efficient_frontier"]) == 30
    assert set(payload["efficient_frontier"][0]) == {"return", "volatility", "sharpe", "weights"}
    # same estimator and bounds in PyPortfolioOpt give the same Sharpe ratio
    prices = bundled_prices().iloc[-505:]
    ef = EfficientFrontier(E.mean_return(prices), E.ledoit_wolf_cov(prices), solver="CLARABEL")
    ef.max_sharpe(risk_free_rate=0.02)
    _, _, sharpe = ef.portfolio_performance(risk_free_rate=0.02)
    assert payload["sharpe_ratio"] == pytest.approx(sharpe, rel=1e-6)
    assert sum(payload["weights"].values()) == pytest.approx(1, abs=1e-8)
    for name in ("weights.csv", "frontier.csv", "frontier.png", "result.json", "config.json"):
        assert (out / name).stat().st_size > 0, name
    frontier = pd.read_csv(out / "frontier.csv")
    assert len(frontier) == 30 and np.all(np.diff(frontier["volatility"]) >= -1e-10)


def test_constraints_file_and_mlflow_run(app, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "max_position: 0.15\nsectors: bundled\nsector_max: {Information Technology: 0.2}\n"
        "exclude: [RRC]\nesg_scores: illustrative\nmin_esg: 55\n"
    )
    res = run(app, "--objective", "min_variance", "--constraints", str(cfg), "--json",
              "--frontier-points", "5")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    w = pd.Series(payload["weights"])
    assert w["RRC"] == 0 and w.max() <= 0.15 + 1e-8
    assert w[["AAPL", "AMD", "MSFT"]].sum() <= 0.2 + 1e-8
    esg_file = ROOT / "data" / "esg_scores_ILLUSTRATIVE.csv"
    esg = pd.read_csv(esg_file, comment="#").set_index("ticker")
    assert (w * esg["esg_score"].reindex(w.index)).sum() >= 55 - 1e-6
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_info = mlflow.get_run(payload["run_id"])
    assert run_info.data.params["objective"] == "min_variance"
    assert run_info.data.metrics["expected_volatility"] == pytest.approx(
        payload["expected_volatility"])


def test_example_constraints_file_runs(app):
    example = str(ROOT / "configs" / "constraints.example.yaml")
    res = run(app, "--constraints", example, "--risk-free", "0.02",
              "--frontier-points", "5", "--no-track")
    assert res.exit_code == 0, res.output
    assert "max_sharpe weights" in res.stdout and "CLARABEL" in res.stdout


def test_bad_config_key_is_refused(app, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("max_postion: 0.1\n")
    res = run(app, "--constraints", str(cfg), "--no-track")
    assert res.exit_code == 1
    assert "max_postion: Extra inputs are not permitted" in res.stderr


def test_infeasible_constraints_exit_1_with_reason(app, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("max_position: 0.04\n")
    res = run(app, "--objective", "min_variance", "--constraints", str(cfg), "--no-track")
    assert res.exit_code == 1
    assert "max_position must be at least 0.05" in res.stderr
    assert "Traceback" not in res.output


def test_max_sharpe_below_risk_free_offers_min_variance(app, tmp_path):
    rng = np.random.default_rng(0)
    rets = rng.normal(-0.001, 0.01, size=(300, 4))  # every asset loses about 22 % a year
    prices = pd.DataFrame(100 * np.cumprod(1 + rets, axis=0), columns=list("ABCD"),
                          index=pd.bdate_range("2020-01-01", periods=300))
    path = tmp_path / "falling.csv"
    prices.to_csv(path)
    res = run(app, "--prices", str(path), "--window", "all", "--risk-free", "0.02",
              "--no-track", "--frontier-points", "0")
    assert res.exit_code == 1
    assert "max Sharpe is undefined" in res.stderr and "min_variance" in res.stderr
    res = run(app, "--risk-free", "3", "--no-track")
    assert res.exit_code == 1 and "pass 0.03 for 3 %" in res.stderr


def test_user_prices_window_all_and_models(app, tmp_path):
    prices = bundled_prices().iloc[-300:, :6]
    path = tmp_path / "p.csv"
    prices.to_csv(path)
    res = run(app, "--prices", str(path), "--window", "all", "--objective", "risk_parity",
              "--risk-model", "oas", "--returns-model", "shrunk", "--json", "--no-track",
              "--frontier-points", "5")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    cov = E.oas_cov(prices)
    w = pd.Series(payload["weights"])
    rc = w * (cov.to_numpy() @ w.to_numpy()) / (w @ cov.to_numpy() @ w)
    np.testing.assert_allclose(rc, 1 / 6, atol=1e-6)
    assert payload["estimation"]["end"] == str(prices.index[-1].date())


def test_as_of_kelly_and_pareto(app, tmp_path):
    res = run(app, "--objective", "kelly", "--kelly-fraction", "0.5", "--as-of", "2015-06-30",
              "--max-weight", "1",
              "--window", "252", "--pareto", "return,cdar", "--frontier-points", "0", "--json",
              "--no-track", "--out", str(tmp_path / "k"))
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["estimation"]["end"] <= "2015-06-30"
    assert payload["efficient_frontier"] == []
    # the CLI wires the window, estimators and fraction through: half-Kelly on those estimates
    prices = bundled_prices().loc[:"2015-06-30"].iloc[-253:]
    mu, cov = E.mean_return(prices), E.ledoit_wolf_cov(prices)
    w = pd.Series(payload["weights"])
    # KKT of max μᵀw − wᵀΣw (f = ½) on the box [0, 1]: gradient μ − 2Σw is 0 on interior weights
    grad = mu - 2 * cov.to_numpy() @ w.to_numpy()
    inner = (w > 1e-6) & (w < 1 - 1e-6)
    assert inner.any()
    np.testing.assert_allclose(grad[inner.to_numpy()], 0, atol=1e-6)
    assert np.all(grad[(w <= 1e-6).to_numpy()] <= 1e-6)
    front = pd.read_csv(tmp_path / "k" / "pareto.csv")
    assert list(front.columns[:2]) == ["return", "cdar"] and len(front) >= 5
    assert np.all(np.diff(front.sort_values("return")["cdar"]) >= -1e-10)


def test_risk_parity_by_sector_and_refused_constraints(app, tmp_path):
    cfg = tmp_path / "rp.yaml"
    cfg.write_text("objective: risk_parity\nrisk_budget_by: sector\nfrontier_points: 0\n")
    res = run(app, "--config", str(cfg), "--json", "--no-track")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    shares = payload["extra"]["class_risk_contributions"]
    np.testing.assert_allclose(list(shares.values()), 1 / len(shares), atol=1e-6)
    bad = tmp_path / "c.yaml"
    bad.write_text("max_position: 0.1\n")
    res = run(app, "--config", str(cfg), "--constraints", str(bad), "--no-track")
    assert res.exit_code == 1 and "risk budgeting supports long-only" in res.stderr


def test_black_litterman_views_from_config(app, tmp_path):
    cfg = tmp_path / "bl.yaml"
    cfg.write_text(
        "objective: max_utility\nrisk_aversion: 5\nreturns_model: black_litterman\n"
        "frontier_points: 0\nviews:\n  - {long: KO, value: 0.40, confidence: 1.0}\n"
    )
    res = run(app, "--config", str(cfg), "--json", "--no-track")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    prices = bundled_prices().iloc[-757:]
    mu = E.black_litterman_return(prices, [E.View("KO", 0.40, confidence=1.0)])
    assert mu["KO"] == pytest.approx(0.40, abs=1e-6)
    w = pd.Series(payload["weights"])
    assert payload["expected_return"] == pytest.approx(float(w @ mu[w.index]), rel=1e-9)
    assert w.idxmax() == "KO"
