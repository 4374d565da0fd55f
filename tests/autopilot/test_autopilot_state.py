"""The autopilot as steps over a frozen state: a step leaves its state as it was, the same
state gives the same decision, and only ``prepare`` reads files."""

import builtins
import dataclasses
import pickle

import pytest

from autoport import data as data_mod
from autoport.autopilot import regimes
from autoport.autopilot.state import AutopilotState
from autoport.strategies import autopilot as ap
from autoport.strategies.autopilot import Autopilot
from autoport.testing import SYNTH, crash_prices, run_loop

TAXED = {**SYNTH, "window": 63, "tax_optimization": True, "rebalance_threshold": 0.02,
         "tax": {"harvest_threshold": 0.05}}
# a small detector so the regime filter (copied on each step) is in the state quickly
REGIME = {**TAXED, "regime": {"enabled": True, "refit_every": 50, "min_hold": 5,
                              "detector": {"min_train": 80, "n_restarts": 1, "n_iter": 20}}}


class Spy:
    """Passes the engine's calls through, keeping each call's history, book and the state
    the strategy held before it."""

    def __init__(self, strategy):
        self.strategy, self.calls = strategy, []
        self.min_history = strategy.min_history

    def decide(self, history, book=None):
        self.calls.append((history, book, self.strategy.state))
        return self.strategy.decide(history, book)


@pytest.mark.parametrize("settings", [TAXED, REGIME], ids=["tax", "regime"])
def test_a_step_from_the_same_state_gives_the_same_decision_and_leaves_it(settings):
    prices = crash_prices(seed=2)[0].iloc[:330]
    strat = Autopilot(settings=settings)
    spy = Spy(strat)
    decisions = run_loop(spy, prices, every=10)
    # the last call with fills to settle: the tax book and the filter are advanced on copies
    i = max(k for k, (_, book, _) in enumerate(spy.calls) if book.fills)
    history, book, before = spy.calls[i]
    assert isinstance(before, AutopilotState) and before.last_date is not None
    frozen = pickle.dumps(before)
    first, after = strat.step(before, history, book)
    second, again = strat.step(before, history, book)
    assert pickle.dumps(before) == frozen  # nothing in the state changed in place
    for d in (first, second):
        assert d.weights.equals(decisions[i].weights) and d.reason == decisions[i].reason
        assert pickle.dumps(d.details) == pickle.dumps(decisions[i].details)
    assert after.last_date == history.index[-1] and after is not before
    assert pickle.dumps(after) == pickle.dumps(again)
    with pytest.raises(dataclasses.FrozenInstanceError):
        after.peak = 0.0
    if settings is REGIME:
        assert decisions[i].details["inputs"]["regime"] is not None
        assert after.regimes is not before.regimes


def _refuse(*args, **kwargs):
    raise AssertionError("read a file outside prepare()")


def _block_loaders(monkeypatch):
    monkeypatch.setattr(ap, "load_alert_rules", _refuse)
    monkeypatch.setattr(ap, "_esg_scores", _refuse)
    monkeypatch.setattr(data_mod, "sector_map", _refuse)
    monkeypatch.setattr(regimes, "_regime_config", _refuse)
    monkeypatch.setattr(regimes, "regime_map", _refuse)


def test_prepare_is_the_only_place_that_reads(monkeypatch):
    prices = crash_prices(seed=2)[0].iloc[:260]
    settings = {**REGIME, "esg_constraints": True, "sectors": None}
    with monkeypatch.context() as m:
        _block_loaders(m)
        strat = Autopilot(settings=settings)  # the constructor stores settings only
        with pytest.raises(AssertionError, match="outside prepare"):
            strat.decide(prices)  # the first decision prepares, and so reads
    strat = Autopilot(settings={**REGIME, "sectors": None})
    ready = strat.prepare()
    assert strat.prepare() is ready and ready.detector is not None
    _block_loaders(monkeypatch)
    monkeypatch.setattr(builtins, "open", _refuse)
    decisions = run_loop(strat, prices, every=10)
    assert len(decisions) >= 5 and decisions[0].details["action"] == "initial"
