"""``optimize_report`` from Python, against PyPortfolioOpt run here on the same prices."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pypfopt import EfficientFrontier, expected_returns, risk_models
from typer.testing import CliRunner

from autoport.data import bundled_prices
from autoport.errors import DataError
from autoport.optimize.config import OptimizeConfig
from autoport.optimize.report import OptimizeReport, optimize_report

WINDOW = 504


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return bundled_prices().iloc[-1200:]


@pytest.fixture(scope="module")
def peer(prices):
    """PyPortfolioOpt's own estimates on the same window: CAGR and Ledoit-Wolf, x 252."""
    window = prices.iloc[-(WINDOW + 1):]
    mu = expected_returns.mean_historical_return(window, frequency=252)
    cov = risk_models.CovarianceShrinkage(window, frequency=252).ledoit_wolf()
    return mu, cov


def _config(**kw) -> OptimizeConfig:
    return OptimizeConfig.model_validate({"window": WINDOW, "frontier_points": 20,
                                         "max_weight": 1.0, **kw})


def test_estimates_and_max_sharpe_weights_equal_pypfopt(prices, peer):
    report = optimize_report(prices, _config(objective="max_sharpe", risk_free_rate=0.02))
    mu, cov = peer
    pd.testing.assert_series_equal(report.mu, mu, check_names=False, rtol=1e-10)
    np.testing.assert_allclose(report.cov.to_numpy(), cov.to_numpy(), rtol=1e-10)
    ef = EfficientFrontier(mu, cov, weight_bounds=(0, 1), solver="CLARABEL")
    ef.max_sharpe(risk_free_rate=0.02)
    expected = pd.Series(ef.clean_weights(rounding=None))
    np.testing.assert_allclose(report.result.weights[expected.index], expected, atol=2e-5)
    _, _, sharpe = ef.portfolio_performance(risk_free_rate=0.02)
    assert report.result.sharpe_ratio == pytest.approx(sharpe, rel=1e-6)
    assert report.start == prices.index[-(WINDOW + 1)] and report.end == prices.index[-1]


def test_min_variance_and_frontier_end_equal_pypfopt(prices, peer):
    report = optimize_report(prices, _config(objective="min_variance"))
    mu, cov = peer
    ef = EfficientFrontier(mu, cov, weight_bounds=(0, 1), solver="CLARABEL")
    ef.min_volatility()
    _, vol, _ = ef.portfolio_performance()
    assert report.result.volatility == pytest.approx(vol, rel=1e-6)
    # the frontier starts at that portfolio and never dips below it
    assert report.frontier.volatilities[0] == pytest.approx(vol, rel=1e-6)
    assert report.frontier.volatilities.min() >= vol * (1 - 1e-6)
    assert len(report.frontier.returns) == 20


def test_risk_parity_contributions_are_equal(prices, peer):
    report = optimize_report(prices, _config(objective="risk_parity", frontier_points=0))
    _, cov = peer
    w = report.result.weights[cov.index].to_numpy()
    contributions = w * (cov.to_numpy() @ w)
    np.testing.assert_allclose(contributions / contributions.sum(), 1 / len(w), atol=1e-6)
    assert report.frontier is None and report.to_json()["efficient_frontier"] == []


def test_cash_line_earns_the_risk_free_rate(prices):
    report = optimize_report(prices, _config(objective="min_variance", risk_free_rate=0.03,
                                             constraints={"cash": True, "max_position": 0.3}))
    assert report.mu["CASH"] == 0.03 and report.cov.loc["CASH"].abs().max() == 0
    # zero variance and no cap reached elsewhere: min variance puts the most it may in cash
    assert report.result.weights["CASH"] == pytest.approx(0.3, abs=1e-6)


def test_pareto_set_and_tracking_dicts(prices):
    report = optimize_report(prices, _config(objective="max_sharpe", pareto=["return", "cdar"],
                                             pareto_points=5))
    assert isinstance(report, OptimizeReport)
    assert list(report.pareto.columns[:2]) == ["return", "cdar"] and len(report.pareto) <= 5
    params, metrics = report.mlflow_params(), report.mlflow_metrics()
    assert params["objective"] == "max_sharpe" and params["n_assets"] == prices.shape[1]
    assert params["data_hash"] == report.to_json()["estimation"]["data_hash"]
    assert metrics["sharpe_ratio"] == report.result.sharpe_ratio
    assert metrics["in_sample_max_drawdown"] == report.in_sample["max_drawdown"] < 0


def test_short_history_is_a_data_error(prices):
    with pytest.raises(DataError, match="needs 505"):
        optimize_report(prices.iloc[:100], _config())


def test_cli_json_is_the_report(prices, tmp_path, monkeypatch):
    """The command is a shell: its --json is the report's to_json plus where it wrote."""
    from autoport.jsonable import to_jsonable
    from autoport_cli.main import app

    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path))
    res = CliRunner().invoke(app, ["optimize", "--objective", "max_sharpe", "--window",
                                   str(WINDOW), "--frontier-points", "20", "--json", "--max-weight", "1",
                                   "--no-track", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload.pop("artifacts_dir") == str(tmp_path / "o")
    assert payload.pop("run_id") is None
    report = optimize_report(bundled_prices(), _config(objective="max_sharpe"))
    assert payload == json.loads(json.dumps(to_jsonable(report.to_json())))


def test_plot_frontier_draws_and_saves(prices, tmp_path):
    from autoport.reporting import plot_frontier

    report = optimize_report(prices, _config(objective="max_sharpe"))
    fig = plot_frontier(report, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 10_000
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "efficient frontier" in labels and "chosen: max_sharpe" in labels
    with pytest.raises(ValueError, match="no frontier"):
        plot_frontier(optimize_report(prices, _config(frontier_points=0)))
