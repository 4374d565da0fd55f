"""``regime_report`` from Python: scores recomputed by hand here, and equal to the CLI's."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from autoport.benchmarks import equal_weight_index
from autoport.data import read_price_file
from autoport.regime.config import parse_config
from autoport.regime.dating import bull_bear_labels
from autoport.regime.hysteresis import hysteresis
from autoport.regime.report import EQUAL_WEIGHT_NAME, RegimeReport, regime_report
from autoport.synthetic import regime_switching_prices

# merged over the bundled regime.yaml, as the CLI reads a partial file
CONFIG = """
detector: {use: hmm_market_3, returns: assets, min_train: 300, refit_every: 200, n_restarts: 2}
strategy:
  regimes:
    bull: {objective: max_sharpe}
    sideways: {objective: min_volatility}
    bear: {objective: min_volatility, max_weight: 0.2, window: 63}
"""


@pytest.fixture(scope="module")
def inputs():
    prices, labels = regime_switching_prices(800, seed=5)
    truth = labels.reindex(prices.index).fillna("bull").astype(str)
    return prices, truth, parse_config(CONFIG, merge=True)


@pytest.fixture(scope="module")
def report(inputs) -> RegimeReport:
    prices, truth, cfg = inputs
    return regime_report(prices, cfg, truth=truth)


def test_equal_weight_index_by_hand():
    prices = pd.DataFrame({"A": [100.0, 110.0, 99.0, 99.0], "B": [np.nan, 50.0, 55.0, 44.0]},
                          index=pd.bdate_range("2020-01-01", periods=4))
    # day 1: A +10%, B has no return yet (listed that day): the mean of the assets priced on
    # both days -> +10%; day 2: (-10% + 10%) / 2 = 0; day 3: (0 - 20%) / 2 = -10%
    expected = [1.0, 1.10, 1.10, 1.10 * 0.9]
    np.testing.assert_allclose(equal_weight_index(prices).to_numpy(), expected, rtol=1e-15)


def test_promotion_scores_against_the_same_index():
    from autoport.promotion import evaluate

    assert evaluate.equal_weight_index is equal_weight_index


def test_scores_recomputed_by_hand(inputs, report):
    prices, truth, cfg = inputs
    labels = report.detection.labels
    index = equal_weight_index(prices)
    pd.testing.assert_series_equal(report.index, index)
    reference = bull_bear_labels(index, decline=0.2, recovery=0.2)
    pd.testing.assert_series_equal(report.reference, reference)
    dates = labels.index.intersection(reference.index)
    bear_or_not = (labels[dates] == "bear") == (reference[dates] == "bear")
    online = report.accuracy["online"]
    assert online["dates"] == len(dates)
    assert online["agreement"] == pytest.approx(bear_or_not.mean(), abs=1e-15)
    assert report.accuracy["true_labels"]["agreement"] == pytest.approx(
        (labels == truth[labels.index]).mean(), abs=1e-15)
    assert report.accuracy["reference"] == report.reference_name == EQUAL_WEIGHT_NAME
    # the regime acted on is the hysteresis of the online probabilities; a switch is held at
    # least min_hold sessions (the last run may still be going at the end)
    s = cfg.strategy
    pd.testing.assert_series_equal(report.acted, hysteresis(
        report.detection.probabilities, threshold=s.threshold, hold_days=s.hold_days,
        min_hold=s.min_hold))
    acted = report.acted
    lengths = acted.groupby(acted.ne(acted.shift()).cumsum()).size()
    assert len(lengths) > 2 and lengths.iloc[1:-1].min() >= s.min_hold


def test_json_and_tracking_dicts(report):
    payload = report.to_json()
    api = report.detection.to_api()
    assert payload["current_regime"] == api["current_regime"]
    assert payload["acted_regime"] == report.acted.iloc[-1]
    assert len(payload["fits"]) == len(report.detection.fits)
    metrics = report.mlflow_metrics()
    assert metrics["agreement_online"] == report.accuracy["online"]["agreement"]
    assert metrics["accuracy_true_labels"] == report.accuracy["true_labels"]["agreement"]
    assert sum(metrics[f"p_{k}"] for k in ("bull", "bear", "sideways")) == pytest.approx(1)
    params = report.mlflow_params()
    assert params["as_of"] == str(report.detection.labels.index[-1].date())
    assert params["detector.min_train"] == 300
    frame = report.frame()
    assert list(frame.columns[-4:]) == ["regime", "acted", "reference",
                                        "in_sample_smoothed_last_model"]


def test_a_given_benchmark_is_cut_at_the_last_price(inputs):
    prices, _, cfg = inputs
    longer = equal_weight_index(prices).mul(3.0).rename("MKT")
    longer = pd.concat([longer, pd.Series([9.0], index=[prices.index[-1] + pd.Timedelta(days=3)])])
    rep = regime_report(prices, cfg, benchmark=longer, benchmark_name="my market")
    assert rep.index.index[-1] == prices.index[-1] and rep.reference_name == "my market"
    assert "true_labels" not in rep.accuracy


def test_cli_scores_equal_the_report(inputs, report, tmp_path, monkeypatch):
    """`autoport regime --json` on the same file gives the same scores and labels."""
    from autoport.jsonable import to_jsonable
    from autoport_cli.main import app

    prices, truth, _ = inputs
    path = tmp_path / "prices.csv"
    prices.assign(regime=truth).to_csv(path, index_label="date")
    (tmp_path / "regime.yaml").write_text(CONFIG)
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path / "home"))
    res = CliRunner().invoke(app, ["regime", "--prices", str(path), "--config",
                                   str(tmp_path / "regime.yaml"), "--json", "--no-track",
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    raw = read_price_file(path)  # the file as the command reads it (CSV floats round-trip)
    direct = regime_report(raw.drop(columns="regime"), parse_config(CONFIG, merge=True),
                           truth=raw["regime"].astype(str))
    expected = json.loads(json.dumps(to_jsonable(direct.to_json())))
    # and the file's prices are the fixture's up to CSV rounding: the same regimes
    assert payload["current_regime"] == report.to_json()["current_regime"]
    for key in ("accuracy", "stability", "current_regime", "acted_regime",
                "regime_probabilities", "model"):
        assert payload[key] == expected[key], key


def test_plot_regimes_saves(report, tmp_path):
    from autoport.reporting import plot_regimes

    fig = plot_regimes(report, tmp_path / "r.png")
    # the index, the filtered probabilities, the strip of the regime acted on
    assert (tmp_path / "r.png").stat().st_size > 10_000 and len(fig.axes) == 3


def test_the_timeline_legend_shows_only_the_detector_states(report, tmp_path):
    from autoport.reporting import plot_regimes

    two = dataclasses.replace(report, detection=dataclasses.replace(
        report.detection, fits=tuple(dataclasses.replace(f, state_names=("bull", "bear"))
                                     for f in report.detection.fits)))
    for rep, expected in ((report, {"bull", "bear", "sideways"}), (two, {"bull", "bear"})):
        fig = plot_regimes(rep, tmp_path / "r.png")
        shown = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
        assert shown - {"bear market (20% rule, top band)"} == expected
