"""The HMM detector: filter vs hmmlearn, no look-ahead, naming, synthetic online accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport.errors import DataError
from autoport.regime.features import Scaler, build_features
from autoport.regime.hmm import REGIMES, fit_hmm, forward_filter, name_states, online_regimes
from autoport.synthetic import regime_switching_prices


@pytest.fixture(scope="module")
def path():
    prices, labels = regime_switching_prices(900, seed=11)
    return prices, labels


def test_forward_filter_matches_hmmlearn_predict_proba_at_the_last_date(path):
    prices, _ = path
    feats = build_features(prices)
    fit = fit_hmm(feats.iloc[:600], n_restarts=2, seed=3)
    x = fit.scaler.transform(feats)
    for end in (50, 333, 600, 900):
        filtered = forward_filter(fit.model, x[:end])
        smoothed = fit.model.predict_proba(x[:end])
        # filtering and smoothing agree on the last row only (nothing comes after it)
        np.testing.assert_allclose(filtered[-1], smoothed[-1], atol=1e-8)
        np.testing.assert_allclose(filtered.sum(axis=1), 1.0, atol=1e-12)
    full = forward_filter(fit.model, x)
    assert np.abs(full - fit.model.predict_proba(x)).max() > 0.1  # earlier rows do differ
    # the named frame is the same numbers, columns in bull/bear/sideways order
    named = fit.filter(feats)
    np.testing.assert_allclose(named.to_numpy(), full[:, fit.order()])
    assert list(named.columns) == list(REGIMES)


@pytest.mark.parametrize("realized_vol", [False, True])
def test_online_labels_do_not_change_when_the_future_changes(path, realized_vol):
    prices, _ = path
    cut = 700
    future = prices.copy()
    rng = np.random.default_rng(0)
    future.iloc[cut:] *= np.exp(np.cumsum(rng.normal(0, 0.05, (len(prices) - cut, 5)), axis=0))
    kw = dict(min_train=300, refit_every=100, n_restarts=2)
    a = online_regimes(build_features(prices, realized_vol=realized_vol), **kw)
    b = online_regimes(build_features(future, realized_vol=realized_vol), **kw)
    last_past = prices.index[cut - 1]
    pa, pb = a.probabilities.loc[:last_past], b.probabilities.loc[:last_past]
    assert len(pa) > 300
    pd.testing.assert_frame_equal(pa, pb)
    # and the future did change something, so the comparison above could have failed
    assert not a.probabilities.loc[prices.index[cut] :].equals(
        b.probabilities.loc[prices.index[cut] :]
    )


def test_history_starts_after_the_first_fit_and_has_the_api_shape(path):
    prices, _ = path
    feats = build_features(prices)
    res = online_regimes(feats, min_train=300, refit_every=200, n_restarts=1)
    assert res.probabilities.index[0] == feats.index[300]
    assert res.fits[0].train_end == feats.index[299]
    assert len(res.fits) == 3  # refits at rows 300, 500, 700
    api = res.to_api(history=5)
    assert set(api) == {"as_of", "current_regime", "confidence", "regime_probabilities",
                        "regime_history"}
    assert api["current_regime"] in REGIMES
    assert api["confidence"] == pytest.approx(max(api["regime_probabilities"].values()))
    assert sum(api["regime_probabilities"].values()) == pytest.approx(1.0)
    assert [set(h) for h in api["regime_history"]] == [
        {"date", "regime", "confidence", "probabilities"}
    ] * 5
    assert api["regime_history"][-1]["date"] == feats.index[-1]


def test_naming_rule_uses_the_models_own_means_and_vols():
    # highest vol → bear even with a positive mean; of the rest, higher mean → bull
    assert name_states(np.array([0.0, 0.001, 0.0005]), np.array([0.01, 0.02, 0.005])) == (
        "sideways", "bear", "bull"
    )
    assert name_states(np.array([-0.002, 0.0, 0.001]), np.array([0.03, 0.01, 0.008])) == (
        "bear", "sideways", "bull"
    )


def test_convergence_is_reported_not_hidden(path):
    feats = build_features(path[0])
    short = fit_hmm(feats, n_restarts=1, n_iter=2, tol=1e-12)
    assert short.converged is False and short.n_iter == 2
    full = fit_hmm(feats, n_restarts=3)
    assert full.converged is True
    assert [(r.start, r.seed) for r in full.restarts] == [
        ("seeded", 0), ("seeded", 1), ("seeded", 2), ("split", -2)]
    assert full.log_likelihood == max(r.log_likelihood for r in full.restarts)


def test_scaler_uses_training_rows_only_and_refuses_constant_columns():
    train = np.array([[1.0, 5.0], [3.0, 5.0]])
    with pytest.raises(DataError, match="constant"):
        Scaler.fit(train)
    sc = Scaler.fit(np.array([[1.0], [3.0]]))
    np.testing.assert_allclose(sc.transform(np.array([[5.0]])), [[(5.0 - 2.0) / np.sqrt(2)]])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_online_accuracy_is_at_least_90_percent_on_synthetic_paths(seed):
    prices, truth = regime_switching_prices(3000, seed=seed)
    res = online_regimes(
        build_features(prices, returns="assets"), min_train=1008, refit_every=252, n_restarts=5
    )
    labels = res.labels
    assert len(labels) == 3000 - 1008
    accuracy = float((labels == truth.reindex(labels.index)).mean())
    assert accuracy >= 0.90, f"seed {seed}: online accuracy {accuracy:.3f}"


def test_the_split_start_finds_a_rare_crash_regime_no_kmeans_start_finds():
    # seed 7's first 756 sessions hold a calm and a middle regime and five crash days: every
    # k-means start splits the calm regime in two (and names the middle one bear); the split
    # start gives the five crash days their own state, at a higher likelihood
    prices, truth = regime_switching_prices(1600, seed=7)
    feats = build_features(prices, returns="assets").iloc[:756]
    crash = (truth.reindex(feats.index) == "bear").to_numpy()
    assert crash.sum() == 5
    kmeans = fit_hmm(feats, n_restarts=5, transmat_prior=30.0, split_start=False)
    split = fit_hmm(feats, n_restarts=5, transmat_prior=30.0)
    assert split.restarts[-1].start == "split" and split.log_likelihood == max(
        r.log_likelihood for r in split.restarts)
    assert split.log_likelihood > kmeans.log_likelihood + 10  # nats
    assert [r.log_likelihood for r in split.restarts[:5]] == [
        r.log_likelihood for r in kmeans.restarts]  # the same k-means starts, one more start
    # in sample, the split fit's bear state is exactly the five crash days; the k-means fit's
    # bear state is the middle regime, a third of the sessions and more
    bear = {name: fit.smoothed(feats).idxmax(axis=1).to_numpy() == "bear"
            for name, fit in (("split", split), ("kmeans", kmeans))}
    np.testing.assert_array_equal(bear["split"], crash)
    assert bear["kmeans"].mean() > 0.3


def test_the_detector_setting_split_start_false_leaves_the_kmeans_and_warm_starts():
    from autoport.regime.config import DetectorConfig
    from autoport.regime.detector import detect

    prices = regime_switching_prices(500, seed=1)[0]
    for on in (True, False):
        det = DetectorConfig(min_train=200, refit_every=150, n_restarts=1, split_start=on)
        fits = detect(prices, det).fits
        assert len(fits) == 2
        assert [{r.start for r in f.restarts} for f in fits] == (
            [{"seeded", "split"}, {"warm", "split"}] if on else [{"seeded"}, {"warm"}])
