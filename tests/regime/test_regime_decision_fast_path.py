"""The regime strategy's decisions after the speed-up (issue 13 item 3) against the old path,
on the bundled data's month ends of 2007-2010 (a bear market, switches both ways).

The old path is rebuilt here from the unchanged batch peers: the features by
:func:`build_features`, the probabilities by one batch :meth:`OnlineRegimeFilter.run` with the
jump model's fit as it was (``old_coordinate_descent``), the acted regime by
:func:`hysteresis` on each date's probabilities, and the bear regime's min CVaR by
``portfolio.solve`` (cvxpy and Clarabel). The fast path is the strategy as it runs in a
backtest: one object, each history continuing the last (feature stream, incremental filter,
continued hysteresis walk, HiGHS's min CVaR). Everything must be identical except what the
min CVaR solve moves, within the conic solver's tolerance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport import data
from autoport.regime import jump
from autoport.regime.features import build_features
from autoport.regime.hysteresis import hysteresis
from autoport.regime.online import OnlineRegimeFilter
from autoport.strategies import regime_switching
from autoport.strategies.regime_switching import RegimeSwitching

START, END = "2007-01-01", "2010-12-31"
EXACT = ("regime", "signal_regime", "filtered_regime", "probabilities", "previous_regime",
         "switch_declined", "switches_last_year", "model_trained_to", "model_converged")
SOLVED = ("expected_return", "volatility", "switch_cost", "switch_expected_gain")


@pytest.fixture(scope="module")
def paths(old_coordinate_descent):
    prices = data.bundled_prices().loc[:END]
    ends = prices.loc[START:].index.to_series().groupby(
        prices.loc[START:].index.to_period("M")).last()
    fast = RegimeSwitching()
    new = [fast.decide(prices.loc[:d]) for d in ends]

    old = RegimeSwitching()
    det, s = old.config.detector, old.config.strategy
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jump, "coordinate_descent", old_coordinate_descent)
        batch = OnlineRegimeFilter.from_detector(det, s.refit_every).run(
            build_features(prices, **det.feature_kwargs()))
    starts = pd.DatetimeIndex([a for a, _ in batch.segments])

    def old_regimes(history):
        probs = batch.probabilities.loc[:history.index[-1]]
        walk = hysteresis(probs, threshold=s.threshold, hold_days=s.hold_days,
                          min_hold=s.min_hold)
        fit = batch.fits[int(starts.searchsorted(history.index[-1], side="right")) - 1]
        return probs, walk, fit

    old.regimes = old_regimes
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(regime_switching, "min_cvar", lambda *a, **k: None)  # portfolio.solve
        before = [old.decide(prices.loc[:d]) for d in ends]
    return fast, batch, new, before


def test_the_filter_and_its_fits_equal_the_old_batch_run(paths):
    fast, batch, _, _ = paths
    pd.testing.assert_frame_equal(fast._online.probabilities, batch.probabilities,
                                  check_exact=True)
    assert len(fast._online.fits) == len(batch.fits) > 10
    for a, b in zip(fast._online.fits, batch.fits, strict=True):
        np.testing.assert_array_equal(a.centers, b.centers)
        assert a.objective == b.objective and a.state_names == b.state_names
        assert a.state_stats == b.state_stats


def test_each_decision_equals_the_old_path_but_the_min_cvar_tolerance(paths):
    _, _, new, before = paths
    regimes = [d.details["regime"] for d in new]
    assert {"bull", "bear"} <= set(regimes) and len(new) == 48
    assert sum(a != b for a, b in zip(regimes, regimes[1:])) >= 2  # it switches
    for a, b in zip(new, before, strict=True):
        assert a.date == b.date and a.reason == b.reason
        for key in EXACT:
            assert a.details[key] == b.details[key], (a.date, key)
        for key in SOLVED:
            x, y = a.details[key], b.details[key]
            assert (x is None) == (y is None), (a.date, key)
            if x is not None:
                assert abs(x - y) <= 1e-6, (a.date, key, x, y)
        bear_weights = "bear" in (a.details["regime"], a.details["previous_regime"])
        if bear_weights:  # HiGHS's vertex against Clarabel's stop
            np.testing.assert_allclose(a.weights.to_numpy(), b.weights.to_numpy(), atol=1e-6)
        else:
            pd.testing.assert_series_equal(a.weights, b.weights, check_exact=True)
