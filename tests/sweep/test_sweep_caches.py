"""Caches a sweep builds once on its driver and hands to every trial.

Regime fits: a trial of the regime strategy given the driver's fits runs no HMM fit and gets
the same daily returns, bit for bit, as a trial that fits everything itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport import configfile, data
from autoport.regime import online
from autoport.strategies import make_strategy
from autoport.sweep.backtest_target import backtest_trial, shared_regime_fits
from autoport.sweep.spec import SweepSpec

# a small detector so the test takes seconds: 300 sessions before the first fit, a refit a year
REGIME = {"detector": {"min_train": 300, "refit_every": 252, "n_restarts": 2},
          "strategy": {"refit_every": 252}}


@pytest.fixture()
def sharing_off():
    yield
    online._SHARED = None  # install() turns sharing on for the process: turn it off again


def test_a_trial_given_the_drivers_regime_fits_fits_nothing_and_gets_the_same_returns(
        sharing_off, monkeypatch):
    prices = data.bundled_prices().loc["2003-01-01":"2007-06-30"].iloc[:, :4]
    spec = configfile.validate(SweepSpec, {
        "target": "backtest", "strategy": "regime", "metric": "sharpe",
        "space": {"strategy_params.config.strategy.threshold": {"uniform": [0.6, 0.9]}},
        "validation": {"start": "2006-06-01", "end": "2006-12-31"},
        "test": {"start": "2007-01-01", "end": "2007-06-30"}}, "spec")
    base = {"strategy_params": {"config": REGIME}}
    point = {"strategy_params": {"config": {**REGIME, "strategy": {"refit_every": 252,
                                                                      "threshold": 0.8}}}}
    _assert_the_shared_fits_serve_the_trial("regime", spec, base, point, prices, monkeypatch)


def test_an_autopilot_trial_given_the_drivers_regime_fits_fits_nothing_and_gets_the_same_returns(
        sharing_off, monkeypatch):
    """The autopilot's detector sits behind its ``prepare()``, not on the strategy."""
    prices = data.bundled_prices().loc["2003-01-01":"2007-06-30"].iloc[:, :4]
    spec = configfile.validate(SweepSpec, {
        "target": "backtest", "strategy": "autopilot", "metric": "sharpe",
        "space": {"strategy_params.risk_tolerance": {"uniform": [0.2, 0.9]}},
        "validation": {"start": "2006-06-01", "end": "2006-12-31"},
        "test": {"start": "2007-01-01", "end": "2007-06-30"}}, "spec")
    regime = {"detector": REGIME["detector"], "refit_every": 252}
    base = {"strategy_params": {"regime": regime}}
    point = {"strategy_params": {"regime": regime, "risk_tolerance": 0.7}}
    _assert_the_shared_fits_serve_the_trial("autopilot", spec, base, point, prices, monkeypatch)


def _assert_the_shared_fits_serve_the_trial(strategy, spec, base, point, prices, monkeypatch):
    """The driver's fits (``shared_regime_fits`` on ``base``) read nothing after the validation
    end, and a ``strategy`` trial at ``point`` given them fits no detector and returns what the
    trial alone returns."""
    alone = backtest_trial(point, 0, strategy=strategy, prices=prices,
                           period=spec.validation, make_strategy=make_strategy)
    fits = shared_regime_fits(spec, base, prices, make_strategy)
    assert len(fits) >= 2  # the grid points up to the validation end
    # the driver read nothing after the validation end: every fit's training ends before it
    assert max(f.train_end for f, _ in fits.values()) <= pd.Timestamp(spec.validation.end)

    def no_fit(*args, **kwargs):
        raise AssertionError("a trial given the driver's fits fitted a detector")

    from autoport.regime import models

    monkeypatch.setattr(models.HMMDetector, "fit", no_fit)
    monkeypatch.setattr(models.JumpDetector, "fit", no_fit)
    shared = backtest_trial(point, 0, strategy=strategy, prices=prices,
                            period=spec.validation, make_strategy=make_strategy,
                            regime_fits=fits)
    assert set(online._SHARED) == set(fits)  # no new fit was made in the trial
    np.testing.assert_array_equal(shared.returns.to_numpy(), alone.returns.to_numpy())
    assert shared.metrics == alone.metrics
