"""Every candidate detector behind the one online filter: no look-ahead (perturb the future),
incremental = batch, and the jump model against jumpmodels' own online pass and a hand-built
two-regime series whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport.regime.config import DetectorConfig
from autoport.regime.features import build_features
from autoport.regime.jump import fit_jump
from autoport.regime.online import OnlineRegimeFilter
from autoport.synthetic import regime_switching_prices

SMALL = dict(min_train=150, refit_every=90, n_restarts=2, n_iter=30, horizons=(5, 10))
DETECTORS = {
    "hmm_market_2": dict(model="hmm", returns="market", n_states=2),
    "hmm_market_3": dict(model="hmm", returns="market", n_states=3),
    "hmm_assets_2": dict(model="hmm", returns="assets", n_states=2),
    "hmm_features_3": dict(model="hmm", returns="features", n_states=3, covariance_type="diag"),
    "jump_features_2": dict(model="jump", returns="features", n_states=2, jump_penalty=20.0),
    "jump_features_3": dict(model="jump", returns="features", n_states=3, jump_penalty=20.0),
}


def config(name: str) -> DetectorConfig:
    return DetectorConfig.model_validate({**SMALL, **DETECTORS[name]})


@pytest.fixture(scope="module")
def prices():
    return regime_switching_prices(460, seed=7)[0].iloc[:, :3]


@pytest.mark.parametrize("name", list(DETECTORS))
def test_changing_prices_after_a_date_leaves_every_earlier_probability_unchanged(prices, name):
    det = config(name)
    cut = prices.index[330]
    future = prices.copy()
    rng = np.random.default_rng(1)
    future.loc[future.index > cut] *= np.exp(rng.normal(0, 0.05, future.loc[future.index > cut]
                                                        .shape)).cumprod(axis=0)
    a = OnlineRegimeFilter.from_detector(det).run(build_features(prices, **det.feature_kwargs()))
    b = OnlineRegimeFilter.from_detector(det).run(build_features(future, **det.feature_kwargs()))
    pa, pb = a.probabilities.loc[:cut], b.probabilities.loc[:cut]
    assert len(pa) > 100
    pd.testing.assert_frame_equal(pa, pb, check_exact=True)
    # and the future does change (the perturbation is not a no-op)
    assert not a.probabilities.loc[cut:].iloc[1:].equals(b.probabilities.loc[cut:].iloc[1:])


@pytest.mark.parametrize("name", list(DETECTORS))
def test_incremental_updates_and_a_cut_back_sync_equal_the_batch_run(prices, name):
    det = config(name)
    feats = build_features(prices, **det.feature_kwargs())
    batch = OnlineRegimeFilter.from_detector(det).run(feats).probabilities
    step = OnlineRegimeFilter.from_detector(det)
    for lo, hi in [(0, 97), (97, 240), (240, 241), (241, 330), (330, len(feats))]:
        step.update(feats.iloc[lo:hi])
    pd.testing.assert_frame_equal(step.probabilities, batch, check_exact=True)
    # a new run over a prefix cuts back (mid segment), then grows again to the same numbers
    step.sync(feats.iloc[:280])
    step.sync(feats)
    pd.testing.assert_frame_equal(step.probabilities, batch, check_exact=True)
    # grid points 150, 240, 330, 420; the cut to 280 keeps the first two, regrowing refits two
    assert step.n_fits == len(range(150, len(feats), 90)) + len(range(330, len(feats), 90))


def test_jump_online_labels_equal_jumpmodels_own_online_pass(prices):
    from jumpmodels.jump import do_E_step

    det = config("jump_features_3")
    feats = build_features(prices, **det.feature_kwargs())
    fit = fit_jump(feats.iloc[:300], n_states=3, jump_penalty=20.0, n_init=3)
    mine = fit.filter(feats)
    x = fit.scaler.transform(feats.to_numpy())[:, fit.clustered]
    k = len(fit.centers)
    values = do_E_step(x, fit.centers, 20.0 * (np.ones((k, k)) - np.eye(k)),
                       return_value_mx=True)
    theirs = np.asarray(fit.state_names)[values.argmin(axis=1)]
    assert (mine.idxmax(axis=1).to_numpy() == theirs).all()
    assert set(mine.to_numpy().ravel()) <= {0.0, 1.0}  # hard labels


def test_jump_model_finds_a_hand_built_bear_phase():
    """Rows 200-299 are a volatile, falling phase (a feature shifted by 3 standard units of
    the calm rows, returns 4x as volatile); the rest is calm. The answer is known."""
    rng = np.random.default_rng(0)
    n, bear = 500, slice(200, 300)
    ret = rng.normal(0.001, 0.005, n)
    ret[bear] = rng.normal(-0.002, 0.02, 100)
    x = rng.normal(0.0, 0.2, n)
    x[bear] += 3.0
    feats = pd.DataFrame({"ret": ret, "x": x}, index=pd.bdate_range("2001-01-01", periods=n))
    truth = np.where((np.arange(n) >= 200) & (np.arange(n) < 300), "bear", "bull")
    fit = fit_jump(feats, n_states=2, jump_penalty=5.0, n_init=3)
    assert fit.state_names[int(np.argmax(fit.centers[:, 0]))] == "bear"  # shifted feature
    smoothed = fit.smoothed(feats).idxmax(axis=1).to_numpy()
    assert (smoothed == truth).all()
    online = fit.filter(feats).idxmax(axis=1).to_numpy()
    wrong = np.flatnonzero(online != truth)
    # online, a switch is only called once the new phase has paid the jump penalty: each of the
    # two turning points may be late by a row or two, nothing else is wrong
    assert set(wrong) <= {200, 201, 300, 301}, wrong
    # centres: the standardized means of x in each phase (the M step's averages)
    z = (x - x.mean()) / x.std(ddof=1)
    assert fit.centers[:, 0].max() == pytest.approx(z[bear].mean())


def test_jump_fit_round_trips_through_its_dict(prices):
    from autoport.regime.hmm import fit_from_dict, fit_to_dict

    det = config("jump_features_2")
    feats = build_features(prices, **det.feature_kwargs())
    fit = fit_jump(feats.iloc[:300], n_states=2, jump_penalty=20.0, n_init=2)
    again = fit_from_dict(fit_to_dict(fit))
    pd.testing.assert_frame_equal(fit.filter(feats), again.filter(feats), check_exact=True)
