"""The peak-to-trough bear-market rule and the label scores, on hand-made series."""

from __future__ import annotations

import pandas as pd
import pytest

from autoport.errors import ConfigError
from autoport.regime import evaluation as ev
from autoport.regime.dating import bear_markets, bull_bear_labels, turning_points


def _series(levels: list[float]) -> pd.Series:
    return pd.Series(levels, index=pd.bdate_range("2020-01-01", periods=len(levels)), dtype=float)


def test_a_twenty_percent_decline_and_rally_date_one_bear_market():
    # 100 → peak 120 (pos 2) → trough 90 (pos 5, -25%) → 110 (+22%, confirms the trough)
    s = _series([100, 110, 120, 110, 95, 90, 100, 110, 115])
    pts = turning_points(s)
    assert [(p.kind, s.index.get_loc(p.date), p.level) for p in pts] == [
        ("peak", 2, 120.0), ("trough", 5, 90.0)
    ]
    labels = bull_bear_labels(s)
    assert labels.tolist() == ["bull"] * 3 + ["bear"] * 3 + ["bull"] * 3
    table = bear_markets(s)
    assert table.loc[0, "drawdown"] == pytest.approx(90 / 120 - 1)
    assert table.loc[0, "sessions"] == 3 and not table.loc[0, "open"]


def test_a_decline_just_short_of_twenty_percent_is_not_a_bear_market():
    # 1990-style: -19.9% from the peak, then a rally: no bear market by the rule
    s = _series([100, 120, 110, 96.12, 100, 130])
    assert turning_points(s) == []
    assert (bull_bear_labels(s) == "bull").all()


def test_a_rally_short_of_twenty_percent_does_not_end_the_bear_and_open_bear_runs_to_the_end():
    # peak 100, trough 75, rally to 89 (+18.7%), new low 70: one bear, still open at the end
    s = _series([100, 90, 75, 89, 80, 70, 80])
    pts = turning_points(s)
    assert [(p.kind, p.level) for p in pts] == [("peak", 100.0)]
    assert bull_bear_labels(s).tolist() == ["bull"] + ["bear"] * 6
    table = bear_markets(s)
    assert bool(table.loc[0, "open"]) and table.loc[0, "drawdown"] == pytest.approx(-0.30)


def test_two_bear_markets_alternate_peaks_and_troughs():
    s = _series([100, 80, 100, 130, 100, 104, 140])
    kinds = [(p.kind, p.level) for p in turning_points(s)]
    assert kinds == [("peak", 100.0), ("trough", 80.0), ("peak", 130.0), ("trough", 100.0)]
    assert bull_bear_labels(s).tolist() == ["bull", "bear", "bull", "bull", "bear", "bull", "bull"]


def test_bad_thresholds_are_refused_with_the_fix():
    with pytest.raises(ConfigError, match="fraction"):
        turning_points(_series([1, 2, 3]), decline=20)


def test_scores_on_hand_made_labels():
    idx = pd.bdate_range("2021-01-01", periods=10)
    truth = pd.Series(["bull"] * 4 + ["bear"] * 4 + ["bull"] * 2, index=idx)
    pred = pd.Series(["bull"] * 5 + ["bear"] * 2 + ["sideways"] * 3, index=idx)
    assert ev.agreement(pred, truth) == pytest.approx(0.6)  # sideways never equals bull
    assert ev.agreement(pred, truth, ev.BEAR_VS_REST) == pytest.approx(0.8)
    conf = ev.confusion(pred, truth)
    assert conf.loc["bear", "bear"] == 2 and conf.loc["bear", "bull"] == 1
    assert conf.loc["bear", "sideways"] == 1 and conf.loc["bull", "sideways"] == 2
    lags = ev.detection_lags(pred, truth, ev.BEAR_VS_REST)
    assert lags["lag_sessions"].tolist() == [1.0, 0.0]
    # without collapsing, the final bull phase is never reported as bull: a miss
    raw = ev.detection_lags(pred, truth)
    assert raw["detected"].tolist() == [True, False]
    assert ev.switches_per_year(pred) == pytest.approx(2 * 252 / 9)
    assert ev.median_duration(pred) == 3.0
    summary = ev.score(pred, truth, collapse=ev.BEAR_VS_REST)
    assert summary["agreement"] == pytest.approx(0.8)
    assert summary["baseline_agreement"] == pytest.approx(0.6)  # always "bull"
    assert summary["median_lag_sessions"] == pytest.approx(0.5)
    # collapsed: bull days 0-3 and 8-9 all called bull (6/6); bear days 4-7 called bear on 5, 6
    balanced = summary["balanced_agreement"]
    assert balanced["recall"] == {"bull": 1.0, "bear": 0.5}
    assert balanced["balanced"] == pytest.approx(0.75)


def test_hysteresis_switches_only_after_a_confident_streak_and_min_hold():
    from autoport.regime.hysteresis import hysteresis

    idx = pd.bdate_range("2022-01-03", periods=9)
    bull, bear = [0.8, 0.1, 0.1], [0.1, 0.8, 0.1]
    weak_bear = [0.35, 0.45, 0.2]
    rows = [bull, bear, bear, weak_bear, bear, bear, bear, bull, bull]
    probs = pd.DataFrame(rows, index=idx, columns=["bull", "bear", "sideways"])
    active = hysteresis(probs, threshold=0.7, hold_days=3, min_hold=0)
    # the weak day breaks the first streak; the switch comes on the third confident bear day
    assert active.tolist() == ["bull"] * 6 + ["bear"] * 3
    spaced = hysteresis(probs, threshold=0.7, hold_days=1, min_hold=4)
    # hold 1 would switch on index 1; min_hold 4 delays it to index 4 (index 3 is weak), and
    # the bull signal from index 7 is acted on only 4 sessions after that switch
    assert spaced.tolist() == ["bull"] * 4 + ["bear"] * 4 + ["bull"]
