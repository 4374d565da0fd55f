"""The override's stated hysteresis on hand-made session inputs, the shared regime detector
(same probabilities and acted-on regime as ``--strategy regime``), and the regime map's
objective, window, cash share and cap intersected with the user's limits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport import data
from autoport.autopilot import override as ov
from autoport.autopilot import regimes
from autoport.autopilot.settings import RegimeSettings
from autoport.regime.config import load_config
from autoport.regime.hysteresis import hysteresis
from autoport.strategies.autopilot import Autopilot
from autoport.testing import crash_prices

D = pd.Timestamp
RULES = ov.OverrideRules(var_limit=-0.03, drawdown_limit=-0.10, restore_drawdown=-0.05,
                         enter_sessions=5, restore_sessions=21, min_defensive_sessions=63)
CALM = ov.OverrideInputs(var=-0.01, target_var=-0.01, drawdown=-0.02, recent_drawdown=-0.01,
                         regime="bull", confidence=0.9)
BEAR = ov.OverrideInputs(var=-0.01, target_var=-0.01, drawdown=-0.02, recent_drawdown=-0.01,
                         regime="bear", confidence=0.8)
DEEP = ov.OverrideInputs(var=-0.01, target_var=-0.01, drawdown=-0.12, recent_drawdown=-0.08,
                         regime="bull", confidence=0.9)


def _run(state, sessions):
    """Feed sessions one decision at a time; return the state and the events by session."""
    events = []
    for i, x in enumerate(sessions):
        state, event, why = ov.step(state, [x], RULES, today=D("2020-01-01") + pd.Timedelta(
            days=i), elapsed=1)
        events.append((i, event, why))
    return state, events


def test_entry_needs_the_condition_on_enter_sessions_consecutive_sessions():
    # 4 bear sessions, a calm one, 4 more: never 5 in a row -> no entry
    state, events = _run(ov.OverrideState(), [BEAR] * 4 + [CALM] + [BEAR] * 4)
    assert not state.active and all(e is None for _, e, _ in events)
    assert state.streak("bear") == 4
    # the 5th consecutive bear session enters, and says how long it held
    state, event, why = ov.step(state, [BEAR], RULES, today=D("2020-02-01"), elapsed=1)
    assert event == "enter" and state.active
    assert "on each of the last 5 sessions" in why[0] and "bear" in why[0]
    # the sessions of one decision count the same as sessions spread over decisions
    state2, event2, _ = ov.step(ov.OverrideState(), [CALM] + [DEEP] * 5, RULES,
                                today=D("2020-01-10"))
    assert event2 == "enter" and "drawdown -12.00%" in state2.trigger
    _, event3, _ = ov.step(ov.OverrideState(), [DEEP] * 4 + [CALM], RULES,
                           today=D("2020-01-10"))
    assert event3 is None


def test_restore_needs_min_time_and_restore_sessions_clean_sessions():
    state = ov.OverrideState(True, D("2020-01-01"), 0, "bear", ())
    # 62 clean sessions: the 63-session minimum blocks
    state, event, why = ov.step(state, [CALM] * 62, RULES, today=D("2020-04-01"))
    assert event is None and "only 62 of the minimum 63" in why[0]
    # one bear session resets the regime condition's streak: 20 clean after it are not enough
    state, event, why = ov.step(state, [BEAR] + [CALM] * 20, RULES, today=D("2020-05-01"))
    assert event is None and any("held 20 of the 21 sessions" in w for w in why)
    state, event, why = ov.step(state, [CALM], RULES, today=D("2020-05-02"))
    assert event == "restore" and not state.active
    assert "84 sessions in defensive mode" in why[0]
    # after a restore the entry streaks start again from zero
    state, event, _ = ov.step(state, [BEAR] * 4, RULES, today=D("2020-05-08"))
    assert event is None and state.streak("bear") == 4


def test_filtered_bear_signal_uses_the_confidence_thresholds():
    rules = ov.OverrideRules(var_limit=-0.03, drawdown_limit=-0.10, restore_drawdown=-0.05,
                             bear_signal="filtered", bear_confidence=0.9,
                             restore_bear_confidence=0.6, enter_sessions=1)
    assert "bear" not in ov.entry_conditions(BEAR, rules)  # 0.8 < 0.9
    sure = ov.OverrideInputs(-0.01, -0.01, -0.02, -0.01, "bear", 0.95)
    assert "bear" in ov.entry_conditions(sure, rules)
    assert not ov.restore_conditions(BEAR, rules)["regime"]  # 0.8 >= 0.6: still bear
    # acted-on regime: bear is bear whatever the probability
    assert "bear" in ov.entry_conditions(BEAR, RULES)


# ----------------------------------------------------------------------------- the detector
# pins the 3-state HMM whose fit count and probabilities these tests compare
FAST = {"detector": {"use": "hmm_market_3", "min_train": 150, "n_restarts": 1, "n_iter": 30,
                     "seed": 1},
        "refit_every": 60}


def test_online_regimes_match_the_regime_strategy_and_one_filter_over_the_history():
    from autoport.strategies.regime_switching import RegimeSwitching

    prices, _, _ = crash_prices(seed=3)
    prices = prices.iloc[:400]
    settings = RegimeSettings.model_validate(FAST)
    det = regimes.AutopilotRegimes(settings)
    cfg = load_config()
    cfg = cfg.model_copy(update={"strategy": cfg.strategy.model_copy(
        update={"refit_every": 60})})
    peer = RegimeSwitching(config=cfg, **FAST["detector"])
    views = {}
    for end in range(det.min_history, len(prices) + 1, 7):  # incremental, refits in between
        views[end] = det.view(prices.iloc[:end])
    assert det.fits == len(range(150, len(prices) - 1, 60))  # one fit per grid point
    for end in (det.min_history + 7 * 3, det.min_history + 7 * 20, max(views)):
        v = views[end]
        probs, active, _ = peer.regimes(prices.iloc[:end])
        np.testing.assert_allclose(v.path.to_numpy(), probs.to_numpy(), rtol=0, atol=1e-12)
        assert v.acted == active.iloc[-1] and v.raw == probs.iloc[-1].idxmax()
        pd.testing.assert_series_equal(v.acted_path, hysteresis(
            probs, threshold=cfg.strategy.threshold, hold_days=cfg.strategy.hold_days,
            min_hold=cfg.strategy.min_hold), check_names=False)


def test_default_detector_is_configs_regime_yaml():
    det = regimes.AutopilotRegimes(RegimeSettings())
    cfg = load_config()
    assert det.detector == cfg.detector
    assert (det.refit_every, det.threshold, det.hold_days, det.min_hold) == (
        cfg.strategy.refit_every, cfg.strategy.threshold, cfg.strategy.hold_days,
        cfg.strategy.min_hold)


# ----------------------------------------------------------------------------- the map
def _forced(name, **settings):
    strat = Autopilot(settings={"regime": {"enabled": False}, "override": {"enabled": False},
                                "tax_optimization": False, "var_limit": -0.5, **settings})
    probs = {"bull": 0.0, "bear": 0.0, "sideways": 0.0, name: 1.0}
    strat._regime = lambda state, history: (name, 1.0, probs, None, state)
    return strat


def test_regime_map_sets_objective_window_cash_and_the_stricter_cap():
    cfg = load_config().strategy.regimes
    prices = data.bundled_prices().iloc[:400]
    bear = _forced("bear").decide(prices)
    rm = bear.details["regime_map"]
    assert (rm["objective"], rm["window"], rm["cash"]) == (
        cfg["bear"].objective, cfg["bear"].window, cfg["bear"].cash)  # min_cvar, 63, 30 %
    assert rm["objective_from"] == rm["cash_from"] == "configs/regime.yaml"
    # bear cap 10 % vs the user's (alert rule) 10 %: 10 %; invested = 1 - 30 % cash
    assert rm["position_cap_used"] == pytest.approx(min(cfg["bear"].max_weight, 0.10))
    assert bear.weights.sum() == pytest.approx(1.0 - cfg["bear"].cash, abs=0.005)
    assert bear.weights.max() <= rm["position_cap_used"] + 1e-3
    assert "from the regime map" in rm["summary"] and "from your settings" in rm["summary"]
    # bull: the map's 25 % cap is looser than a user's 15 % limit, which wins ...
    bull = _forced("bull", max_position=0.15).decide(prices).details["regime_map"]
    assert bull["position_cap_used"] == 0.15 and bull["position_cap_from"] == \
        "your position limit"
    # ... and tighter than a user's 40 %, so the map's 25 % binds
    loose = _forced("bull", max_position=0.40, max_sector=None).decide(prices)
    assert loose.details["regime_map"]["position_cap_used"] == pytest.approx(0.25)
    assert loose.details["regime_map"]["position_cap_from"] == "the regime map"
    assert loose.weights.max() <= 0.25 + 1e-3 and loose.weights.sum() > 0.99
    # the user's own change to the map is named as theirs
    mine = _forced("bear", regime={"enabled": False, "policies": {"bear": {"cash": 0.5}}})
    d = mine.decide(prices)
    assert d.details["regime_map"]["cash_from"] == "your settings"
    assert d.weights.sum() == pytest.approx(0.5, abs=0.005)
