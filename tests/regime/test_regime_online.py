"""The one online regime filter: compiled forward pass vs the written-out recursion, incremental
vs batch, the four consumers on the same settings, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport.errors import DataError
from autoport.regime.features import build_features
from autoport.regime.hmm import fit_hmm, forward_filter, predict
from autoport.regime.online import OnlineRegimeFilter
from autoport.synthetic import regime_switching_prices

KW = dict(min_train=200, refit_every=70, n_restarts=1, n_iter=40)


def written_out_filter(model, x: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """The straightforward scaled forward recursion (scipy densities, a Python loop): the
    implementation the compiled pass replaced, kept here as its reference."""
    from scipy.stats import multivariate_normal

    log_b = np.column_stack([multivariate_normal(model.means_[i], model.covars_[i]).logpdf(x)
                             .reshape(-1) for i in range(model.n_components)])
    b = np.exp(log_b - log_b.max(axis=1, keepdims=True))
    out = np.empty_like(b)
    alpha = (model.startprob_ if start is None else start) * b[0]
    out[0] = alpha / alpha.sum()
    for t in range(1, len(b)):
        alpha = (out[t - 1] @ model.transmat_) * b[t]
        out[t] = alpha / alpha.sum()
    return out


@pytest.fixture(scope="module")
def feats():
    prices, _ = regime_switching_prices(700, seed=5)
    return build_features(prices, returns="assets")


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_compiled_forward_pass_equals_the_written_out_recursion(feats, covariance_type):
    fit = fit_hmm(feats.iloc[:400], n_restarts=1, seed=2, covariance_type=covariance_type)
    x = fit.scaler.transform(feats)
    fast = forward_filter(fit.model, x)
    np.testing.assert_allclose(fast, written_out_filter(fit.model, x), rtol=0, atol=1e-12)
    # continuing from a filtered row is one pass over both stretches, bit for bit, and a row's
    # value does not depend on the rows passed with it (so cut histories agree exactly)
    start = predict(fast[299], fit.model.transmat_)
    np.testing.assert_allclose(start, fast[299] @ fit.model.transmat_, rtol=1e-15)
    for end in (1, 2, 41, len(x) - 300):
        np.testing.assert_array_equal(forward_filter(fit.model, x[300:300 + end], start=start),
                                      fast[300:300 + end])


def test_a_row_no_reachable_state_explains_falls_back_to_the_prediction():
    """State 2 is unreachable and row 2 lies 100 sd from the other states: hmmlearn's scaled
    pass stops on the underflow, and that row becomes the predicted distribution (the rule of
    the recursion it replaced)."""
    from types import SimpleNamespace

    from scipy.stats import norm

    a = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.0, 0.0, 1.0]])
    start = np.array([0.5, 0.5, 0.0])
    model = SimpleNamespace(n_components=3, startprob_=start, transmat_=a,
                            means_=np.array([[0.0], [1.0], [100.0]]),
                            covars_=np.ones((3, 1, 1)))
    x = np.array([[0.0], [0.5], [100.0], [0.2]])
    out = forward_filter(model, x)
    dens = norm.pdf(x, loc=model.means_.ravel())  # (rows, states)
    first = start * dens[0] / (start * dens[0]).sum()
    second = (first @ a) * dens[1] / ((first @ a) * dens[1]).sum()
    third = second @ a  # nothing reachable explains row 2: the prediction
    fourth = (third @ a) * dens[3] / ((third @ a) * dens[3]).sum()
    np.testing.assert_allclose(out, [first, second, third, fourth], rtol=0, atol=1e-12)


def test_incremental_updates_and_syncs_equal_the_batch_run_bit_for_bit(feats):
    batch = OnlineRegimeFilter(**KW)
    res = batch.run(feats)
    assert len(res.fits) == len(range(200, len(feats), 70)) == batch.n_fits
    assert res.probabilities.index[0] == feats.index[200]
    assert res.fits[1].train_end == feats.index[269]  # a fit reads rows before its grid point
    # row by row and in uneven chunks through update()
    step = OnlineRegimeFilter(**KW)
    rng = np.random.default_rng(0)
    i = 0
    while i < len(feats):
        n = int(rng.choice([1, 1, 3, 17, 70, 150]))
        step.update(feats.iloc[i:i + n])
        i += n
    np.testing.assert_array_equal(step.probabilities.to_numpy(), res.probabilities.to_numpy())
    assert step.probabilities.index.equals(res.probabilities.index)
    assert step.n_fits == batch.n_fits
    # a growing history through sync(), as a strategy is handed it
    grow = OnlineRegimeFilter(**KW)
    for end in range(150, len(feats) + 1, 9):
        grow.sync(feats.iloc[:end])
    grow.sync(feats)
    np.testing.assert_array_equal(grow.probabilities.to_numpy(), res.probabilities.to_numpy())
    assert grow.n_fits == batch.n_fits  # each grid point fitted once
    for a, b in zip(grow.fits, res.fits):
        np.testing.assert_array_equal(a.model.transmat_, b.model.transmat_)
    # warm starts: every fit after the first also started from the previous fit's parameters
    assert all(-1 not in [r.seed for r in f.restarts] for f in res.fits[:1])
    assert all(-1 in [r.seed for r in f.restarts] for f in res.fits[1:])


def test_sync_cuts_back_on_a_prefix_and_starts_afresh_on_other_data(feats):
    online = OnlineRegimeFilter(**KW)
    full = online.run(feats).probabilities.copy()
    fits = online.n_fits
    cut = online.sync(feats.iloc[:450])  # a new run over the same data: no refit
    pd.testing.assert_frame_equal(cut, full.loc[: feats.index[449]])
    assert online.n_fits == fits and len(online.fits) == len(range(200, 450, 70))
    again = online.sync(feats)  # and on again from the cut
    np.testing.assert_array_equal(again.to_numpy(), full.to_numpy())
    # the grid points after the cut (rows 480, 550, ...) are fitted again, nothing before
    assert online.n_fits == fits + len(range(480, len(feats), 70))
    other = feats * 1.01  # different rows: a fresh run, the same as a new filter's
    np.testing.assert_array_equal(online.sync(other).to_numpy(),
                                  OnlineRegimeFilter(**KW).run(other).probabilities.to_numpy())


def test_update_refuses_rows_that_do_not_continue_the_history(feats):
    online = OnlineRegimeFilter(**KW)
    online.update(feats.iloc[:100])
    with pytest.raises(DataError, match="not after the last row"):
        online.update(feats.iloc[50:120])
    with pytest.raises(DataError, match="columns"):
        online.update(feats.iloc[100:120, :2])
    with pytest.raises(DataError, match="no regime fit yet"):
        online.last_fit  # noqa: B018


def test_prices_changed_after_a_date_leave_every_earlier_probability_unchanged():
    prices, _ = regime_switching_prices(650, seed=8)
    cut = 480
    future = prices.copy()
    rng = np.random.default_rng(1)
    future.iloc[cut:] *= np.exp(np.cumsum(rng.normal(0, 0.04, (len(prices) - cut,
                                                                prices.shape[1])), axis=0))
    a = OnlineRegimeFilter(**KW).run(build_features(prices, returns="market")).probabilities
    b = OnlineRegimeFilter(**KW).run(build_features(future, returns="market")).probabilities
    last_past = prices.index[cut - 1]
    assert len(a.loc[:last_past]) > 250
    pd.testing.assert_frame_equal(a.loc[:last_past], b.loc[:last_past], check_exact=True)
    assert not a.loc[prices.index[cut]:].equals(b.loc[prices.index[cut]:])  # it could fail


def test_the_four_consumers_report_the_same_probabilities_on_the_same_settings():
    """``detect`` (the CLI), the env's features, the regime strategy and the autopilot on the
    bundled 2000-2004 prices, min_train 300, refit_every 100, one restart. Before the one
    filter the strategy and the autopilot differed from ``detect`` by up to 0.86 here."""
    from autoport import data
    from autoport.autopilot import regimes as ap
    from autoport.autopilot.settings import RegimeSettings
    from autoport.envs.config import EnvConfig
    from autoport.envs.features import RegimeObservations, regime_matrix
    from autoport.regime.config import load_config
    from autoport.regime.detector import detect
    from autoport.strategies.regime_switching import RegimeSwitching

    prices = data.bundled_prices().loc["2000":"2004"]
    cfg = load_config()
    det = cfg.detector.model_copy(update={"min_train": 300, "refit_every": 100,
                                          "n_restarts": 1})
    ref = detect(prices, det).probabilities
    env_cfg = EnvConfig(regime_features=True, regime_detector=det)
    np.testing.assert_array_equal(regime_matrix(prices, env_cfg)[-len(ref):], ref.to_numpy())
    strat = RegimeSwitching(config=cfg.model_copy(update={
        "detector": det, "strategy": cfg.strategy.model_copy(update={"refit_every": 100})}))
    env = RegimeObservations(det)
    pilot = ap.AutopilotRegimes(RegimeSettings.model_validate(
        {"detector": det.model_dump(), "refit_every": 100}))
    ends = list(range(strat.min_history, len(prices), 11)) + [len(prices)]
    worst = 0.0
    for end in ends:
        history = prices.iloc[:end]
        want = ref.loc[history.index[-1]].to_numpy()
        probs, _, _ = strat.regimes(history)
        view = pilot.view(history)
        for got in (env.at(history), probs.iloc[-1].to_numpy(),
                    np.array([view.probabilities[k] for k in ref.columns])):
            worst = max(worst, float(np.abs(got - want).max()))
        # the whole path the strategy and the autopilot apply hysteresis to is the CLI's
        np.testing.assert_array_equal(probs.to_numpy(), ref.loc[: history.index[-1]].to_numpy())
        pd.testing.assert_frame_equal(view.path, probs)
    assert worst == 0.0  # bit for bit
    assert strat.fits == pilot.fits == env.fitted == len(range(300, len(ref) + 300, 100))


def test_a_refit_whose_warm_start_fails_falls_back_to_the_seeded_restarts(feats, monkeypatch):
    import autoport.regime.models as online_mod

    real, calls = online_mod.fit_hmm, []

    def warm_fails(train, *, init=None, **kw):
        calls.append(kw["n_restarts"])
        if init is not None and kw["n_restarts"] == 0:
            raise DataError("every HMM restart failed")
        return real(train, init=init, **kw)

    monkeypatch.setattr(online_mod, "fit_hmm", warm_fails)
    res = OnlineRegimeFilter(**KW).run(feats.iloc[:400])
    assert calls == [1, 0, 1, 0, 1]  # first fit, then warm start -> fallback per refit
    assert len(res.fits) == 3 and all(-1 in [r.seed for r in f.restarts] for f in res.fits[1:])
