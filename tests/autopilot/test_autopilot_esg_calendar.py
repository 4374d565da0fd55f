"""The ESG setting binds (excluded names never held, the invested average at or above the
floor after every trade list) and the every_day calendar reviews at every session."""

from __future__ import annotations

import pandas as pd
import pytest

from autoport import data
from autoport.autopilot import risk_checks, triggers
from autoport.autopilot.settings import EsgSettings
from autoport.backtest import load_config, run_backtest
from autoport.strategies import make_strategy
from autoport.errors import ConfigError
from autoport.strategies.autopilot import Autopilot, _esg_scores
from autoport.testing import SYNTH, crash_prices, run_loop

D = pd.Timestamp
BASE = {"regime": {"enabled": False}, "tax_optimization": True, "calendar": "monthly"}
ESG = {"min_score": 65.0, "exclude_below": 40.0}
TRADING = ("initial", "rebalance", "harvest", "override_enter", "override_restore")


def test_meet_esg_cuts_the_lowest_scores_into_cash_by_hand():
    scores = {"A": 80.0, "B": 40.0, "C": 30.0}
    w = pd.Series({"A": 0.5, "B": 0.4, "C": 0.1})
    out, notes = risk_checks.meet_esg(w, scores, 60.0, excluded=["C"])
    # C excluded; then A 0.5 * 80 + B x * 40 >= 60 (0.5 + x)  =>  x <= 0.5
    assert out["C"] == 0.0 and out["B"] == pytest.approx(0.4) and len(notes) == 1
    out, notes = risk_checks.meet_esg(w, scores, 70.0, excluded=["C"])
    # 40 + 40 x = 70 (0.5 + x)  =>  x = 5 / 30
    assert out["B"] == pytest.approx(5.0 / 30.0) and out["A"] == 0.5
    assert risk_checks.esg_score(out, scores) == pytest.approx(70.0)
    assert "below the 70.0 floor" in notes[-1]


@pytest.fixture(scope="module")
def esg_runs():
    prices = data.bundled_prices().loc[:"2008-12-31"]
    first = prices.index.get_loc(prices.loc["2007-01-02":].index[0])

    def run(esg):
        strat = Autopilot(settings={**BASE, "esg_constraints": esg})
        return run_loop(strat, prices, every=10, first=first)

    return run(False), run(ESG)


def test_esg_floor_and_exclusions_bind_on_every_trade_list(esg_runs):
    free, bound = esg_runs
    scores = _esg_scores()
    excluded = [t for t in free[0].weights.index if scores[t] < ESG["exclude_below"]]
    assert excluded  # BAC, MSFT, UNH, XOM in the illustrative file

    def avg(d):
        return risk_checks.esg_score(d.weights, scores)

    traded_free = [d for d in free if d.details["action"] in TRADING]
    traded = [d for d in bound if d.details["action"] in TRADING]
    assert len(traded) > 15
    # unconstrained, the autopilot holds excluded names and goes below the floor ...
    assert max(d.weights[excluded].sum() for d in traded_free) > 0.05
    assert min(avg(d) for d in traded_free) < ESG["min_score"] - 1.0
    # ... with the setting it never does, harvests and wash-sale adjustments included
    for d in bound:
        assert d.weights[excluded].sum() == 0.0, d.date
    for d in traded:
        assert avg(d) >= ESG["min_score"] - 0.05, (d.date, avg(d))  # share rounding only
    assert any(d.details.get("harvests") for d in traded)
    assert any(abs(avg(d) - ESG["min_score"]) < 0.5 for d in traded)  # the floor is reached


def test_esg_true_means_the_default_floor_on_the_bundled_scores():
    strat = Autopilot(settings={**BASE, "esg_constraints": True})
    assert strat.esg == EsgSettings() and strat.esg.min_score == 50.0
    prices = data.bundled_prices().loc[:"2007-01-03"]
    d = strat.decide(prices)
    assert risk_checks.esg_score(d.weights, _esg_scores()) >= 50.0 - 0.05
    with pytest.raises(ConfigError, match="no ESG score for"):
        Autopilot(settings={**SYNTH, "esg_constraints": True}).decide(crash_prices()[0].iloc[:200])


def test_every_day_calendar_fires_at_each_session():
    assert triggers.calendar_due(D("2020-01-02"), D("2020-01-03"), "every_day")
    assert not triggers.calendar_due(D("2020-01-03"), D("2020-01-03"), "every_day")
    assert not triggers.calendar_due(D("2020-01-02"), D("2020-01-31"), "monthly")
    prices, _, _ = crash_prices(seed=3)
    strat = Autopilot(settings={**SYNTH, "calendar": "every_day"})
    decisions = run_loop(strat, prices.iloc[:200], every=1)
    assert len(decisions) == 200 - strat.min_history
    assert decisions[0].details["action"] == "initial"
    for d in decisions[1:]:
        assert "every_day calendar review" in d.details["trigger"], d.date
        # reviewed daily; traded only when the cost-benefit gate (or a mandatory rule) says so
        cb = d.details.get("cost_benefit")
        if d.details["action"] == "rebalance" and cb is not None:
            assert cb["trade"]
    monthly = run_loop(Autopilot(settings=SYNTH), prices.iloc[:200], every=1)
    reviews = [d for d in monthly if "monthly calendar review" in d.details["trigger"]]
    assert 1 <= len(reviews) <= 4


@pytest.mark.slow
def test_every_day_engine_schedule_decides_and_reviews_each_session(home):
    prices = data.bundled_prices().loc[:"2011-03-31"]
    cfg = load_config(None, {"strategy": "autopilot", "start": "2011-01-03",
                             "end": "2011-03-31"})
    cfg = cfg.model_copy(update={"rebalance": "every_day", "strategy_params": {
        "settings": {**BASE, "calendar": "every_day"}}})
    outcome = run_backtest(cfg, prices, make_strategy=make_strategy)
    records = outcome.strategy.records
    sessions = prices.loc["2011-01-03":"2011-03-31"].index
    assert [pd.Timestamp(r["date"]) for r in records] == list(sessions)
    assert all("every_day calendar review" in r["trigger"] for r in records[1:])
    # the engine executed exactly the orders of the daily decisions
    orders = {(pd.Timestamp(r["date"]), t["ticker"]): t["shares"]
              for r in records for t in r["trades"]}
    assert len(outcome.strategy.transactions) == len(orders) > 0
    for day, tx in outcome.strategy.transactions.iterrows():
        decided = sessions[sessions.get_loc(day) - 1]
        assert orders[(decided, tx["symbol"])] == tx["amount"]
