"""The autopilot's parts on hand-made cases, and the strategy on synthetic prices (no zipline)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport.testing import ACCOUNT, SYNTH, crash_prices, run_loop
from autoport.autopilot import attribution, explain, risk_checks, tax, trades, triggers
from autoport.autopilot.settings import load_settings
from autoport.engines import orders, simulator
from autoport.engines.costs import CostModel
from autoport.engines.orders import OrderSizing
from autoport.errors import ConfigError
from autoport.strategies import make_strategy
from autoport.strategies.autopilot import Autopilot

D = pd.Timestamp


# ----------------------------------------------------------------------------- settings
def test_settings_refuse_unknown_keys_and_bad_values(tmp_path):
    with pytest.raises(ConfigError, match="bogus.*Extra inputs"):
        load_settings({"bogus": 1})
    with pytest.raises(ConfigError, match="risk_tolerance"):
        load_settings({"risk_tolerance": 1.5})
    path = tmp_path / "s.yaml"
    path.write_text("risk_tolerance: 0.2\ntax: {short_term_rate: 0.4}\n")
    s = load_settings(path)
    assert s.risk_tolerance == 0.2 and s.tax.short_term_rate == 0.4
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.yaml")


def test_bundled_config_loads_and_registry_builds_it():
    from importlib import resources

    text = resources.files("autoport.configs").joinpath("autopilot.yaml").read_text()
    import yaml

    s = load_settings(yaml.safe_load(text))
    assert s.tax_optimization and s.var_limit == -0.03
    strat = make_strategy("autopilot", settings={"window": 126})
    assert strat.name == "autopilot" and strat.min_history == 127
    # alert rules fill what the user left open
    ready = strat.prepare()
    assert ready.drawdown_limit == -0.10 and ready.max_position == 0.10
    assert ready.rules.restore_drawdown == -0.05 and ready.confidence == 0.95


# ----------------------------------------------------------------------------- triggers
def test_drift_trigger_fires_exactly_at_threshold():
    target = pd.Series({"A": 0.5, "B": 0.5})
    current = pd.Series({"A": 0.625, "B": 0.375})  # exact binary fractions: drift 0.125
    d = triggers.drift(current, target)
    assert d.max_abs == 0.125 and d.total == 0.125 and d.asset in ("A", "B")
    assert triggers.drift_trigger(d, 0.125) is not None
    assert triggers.drift_trigger(d, 0.124) is not None
    assert triggers.drift_trigger(d, 0.125 + 1e-9) is None
    assert triggers.drift_trigger(d, 0.2, total_threshold=0.125) is not None


def test_calendar_and_regime_triggers():
    assert triggers.calendar_due(None, D("2020-01-02"), "quarterly")
    assert not triggers.calendar_due(D("2020-01-02"), D("2020-03-31"), "quarterly")
    assert triggers.calendar_due(D("2020-03-31"), D("2020-04-01"), "quarterly")
    assert not triggers.calendar_due(D("2020-01-02"), D("2030-01-02"), "never")
    assert triggers.regime_change("bull", "bear") and not triggers.regime_change("bull", "bull")


def test_cost_benefit_gate_matches_formula():
    mu = pd.Series({"A": 0.10, "B": 0.05})
    cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=mu.index, columns=mu.index)
    cur, tgt = pd.Series({"A": 0.6, "B": 0.4}), pd.Series({"A": 0.5, "B": 0.5})
    cb = triggers.worth_trading(cur, tgt, mu, cov, risk_aversion=2.0, cost_rate=0.001,
                                horizon_sessions=252)
    te2 = 0.1**2 * 0.04 + 0.1**2 * 0.01
    u = lambda w: mu @ w - cov.to_numpy().dot(w).dot(w)  # noqa: E731  δ/2 = 1
    gain = u(tgt.to_numpy()) - u(cur.to_numpy())
    assert cb.benefit == pytest.approx(te2 + max(gain, 0.0))
    assert cb.cost == pytest.approx(0.001 * 0.2)
    assert cb.worth_it
    cb2 = triggers.worth_trading(cur, tgt, mu, cov, risk_aversion=2.0, cost_rate=0.1,
                                 horizon_sessions=1)
    assert not cb2.worth_it


# ----------------------------------------------------------------------------- risk checks
def _returns(seed=0, n=300, k=4):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(0.0005, 0.01, (n, k)), columns=list("ABCD"))


def test_position_and_sector_caps_keep_budget():
    w = pd.Series({"A": 0.7, "B": 0.1, "C": 0.1, "D": 0.1})
    capped, notes = risk_checks.cap_positions(w, 0.4)
    assert capped["A"] == pytest.approx(0.4) and capped.sum() == pytest.approx(1.0)
    assert (capped <= 0.4 + 1e-12).all() and "A capped" in notes[0]
    sec = {"A": "s1", "B": "s1", "C": "s2", "D": "s3"}
    out, notes = risk_checks.cap_sectors(capped, sec, {"s1": 0.3, "s2": 1, "s3": 1})
    assert out[["A", "B"]].sum() == pytest.approx(0.3) and out.sum() == pytest.approx(1.0)
    assert "sector s1" in notes[0]


def test_post_trade_var_is_resized_exactly_or_refused():
    r = _returns()
    w = pd.Series(0.25, index=r.columns)
    var = risk_checks.portfolio_var(w, r, 0.95)
    limit = var / 2  # half the loss allowed: equities halved
    res = risk_checks.pre_trade_check(w, w * 0, r, max_position=1.0, var_limit=limit)
    assert res.status == "resized" and res.weights.sum() == pytest.approx(0.5)
    assert res.var_after == pytest.approx(limit)
    res = risk_checks.pre_trade_check(w, w * 0, r, max_position=1.0, var_limit=var / 5,
                                      min_invested=0.3)
    assert res.status == "refused" and "refused" in res.reasons[-1]
    assert (res.weights == 0).all()


# ----------------------------------------------------------------------------- trades
def test_orders_round_skip_small_and_never_overdraw():
    prices = pd.Series({"A": 10.0, "B": 33.0, "C": 7.0})
    shares = pd.Series({"A": 100.0, "B": 0.0, "C": 1.0})
    target = pd.Series({"A": 0.2, "B": 0.8, "C": 0.0})
    costs = CostModel(commission_bps=10, slippage_bps=10)
    rules = OrderSizing(lot_size=1, min_trade_value=50.0)
    new, notes = orders.size(target, shares, prices, 9_000.0, costs=costs, sizing=rules)
    listed = trades.orders_between(shares, new, prices, 10_007.0, costs)
    value = 9_000 + 1000 + 7
    assert new["A"] == 200 and new["C"] == 0  # closing order kept though under the minimum
    assert all(o.shares == int(o.shares) for o in listed)
    cash_after = 9_000 - sum(o.value for o in listed) - sum(o.est_cost for o in listed)
    assert cash_after >= 0 and "trimmed" in " ".join(notes)
    assert (new * prices).sum() <= value
    new, notes = orders.size(pd.Series({"A": 0.1005, "B": 0, "C": 0}), pd.Series({"A": 100.0}),
                             prices, 9_007.0, costs=costs,
                             sizing=OrderSizing(min_trade_value=50.0))
    assert any("below the minimum" in n for n in notes) or (new == 0).all()


def test_shortfall_of_an_engine_fill_against_the_decision_price():
    fill = 101.0 + 101.0 * 0.0005  # bought at the next close, 5 bp slippage
    f = trades.Fill("A", 10, 100.0, fill, 10 * fill * 1e-4)
    assert f.shortfall == pytest.approx((fill - 100.0) * 10 + 10 * fill * 1e-4)
    summary = trades.shortfall_summary([f])
    assert summary["traded_value"] == 1000.0
    assert summary["implementation_shortfall_bps"] == pytest.approx(1e4 * f.shortfall / 1000.0)


# ----------------------------------------------------------------------------- tax
def test_wash_sale_sell_then_rebuy_within_30_days_disallows_and_defers():
    book = tax.TaxBook(wash_days=30)
    book.buy("X", 100, 100.0, D("2020-01-02"))
    [r] = book.sell("X", 100, 90.0, D("2020-03-02"))
    assert r.gain == pytest.approx(-1000.0)
    lot = book.buy("X", 100, 91.0, D("2020-03-20"))  # 18 days later
    assert r.disallowed == pytest.approx(1000.0) and r.gain == pytest.approx(0.0)
    assert lot.basis == pytest.approx(101.0)  # the loss moves into the new lot


def test_wash_sale_rebuy_after_31_days_is_allowed():
    book = tax.TaxBook(wash_days=30)
    book.buy("X", 100, 100.0, D("2020-01-02"))
    [r] = book.sell("X", 100, 90.0, D("2020-03-02"))
    lot = book.buy("X", 100, 91.0, D("2020-04-02"))  # 31 days later
    assert r.disallowed == 0.0 and r.gain == pytest.approx(-1000.0) and lot.basis == 91.0


def test_wash_sale_buy_then_sell_at_a_loss_within_30_days():
    book = tax.TaxBook(wash_days=30, lot_method="fifo")
    book.buy("X", 100, 100.0, D("2020-02-10"))
    book.buy("X", 50, 92.0, D("2020-02-20"))  # replacement bought 11 days before the sale
    [r] = book.sell("X", 100, 90.0, D("2020-03-02"))  # sells the first lot (fifo)
    assert r.disallowed == pytest.approx(500.0)  # 50 replacement shares of 100 sold
    assert r.gain == pytest.approx(-500.0)
    assert book.lots["X"][0].basis == pytest.approx(92.0 + 500.0 / 50)


def test_sale_picks_the_recent_lot_when_that_avoids_a_wash():
    book = tax.TaxBook(wash_days=30, lot_method="fifo")
    book.buy("X", 100, 100.0, D("2020-01-02"))  # outside the window of the sale
    book.buy("X", 50, 92.0, D("2020-02-20"))
    assert not book.sale_would_wash("X", 50, 90.0, D("2020-03-02"))
    [r] = book.sell("X", 50, 90.0, D("2020-03-02"))  # fifo would wash; the recent lot does not
    assert r.acquired == D("2020-02-20") and r.disallowed == 0.0
    assert r.gain == pytest.approx(-100.0) and book.lots["X"][0].shares == 100


def test_terms_and_annual_tax_netting():
    book = tax.TaxBook()
    book.buy("L", 10, 100.0, D("2019-01-02"))
    book.buy("S", 10, 100.0, D("2020-06-01"))
    [lt] = book.sell("L", 10, 150.0, D("2020-07-01"))
    [st] = book.sell("S", 10, 80.0, D("2020-07-01"))
    assert (lt.term, st.term) == ("long", "short")
    due, carry, parts = tax.annual_tax([lt, st], short_rate=0.4, long_rate=0.2)
    assert due == pytest.approx(0.2 * (500 - 200)) and carry == 0.0
    due, carry, _ = tax.annual_tax([st], short_rate=0.4, long_rate=0.2)
    assert due == 0.0 and carry == pytest.approx(200.0)


def test_harvest_skips_recent_purchases_and_picks_losers():
    book = tax.TaxBook()
    book.buy("X", 100, 100.0, D("2020-01-02"))
    book.buy("Y", 100, 100.0, D("2020-03-01"))
    prices = {"X": 90.0, "Y": 80.0}
    got = tax.harvest_candidates(book, prices, D("2020-03-10"), {"X": "Z", "Y": "Z"},
                                 threshold=0.05)
    assert [h.ticker for h in got] == ["X"]  # Y was bought 9 days ago: would be a wash
    assert got[0].loss == pytest.approx(1000.0) and got[0].substitute == "Z"


# ----------------------------------------------------------------------------- attribution
def test_brinson_effects_sum_to_the_active_return():
    rng = np.random.default_rng(3)
    cols = list("ABCDE")
    groups = {"A": "s1", "B": "s1", "C": "s2", "D": "s2", "E": "s3"}
    r = pd.DataFrame(rng.normal(0.001, 0.02, (60, 5)), columns=cols)
    wp = pd.DataFrame(rng.dirichlet(np.ones(5), 60) * 0.95, columns=cols)  # 5 % cash
    wb = pd.Series(0.2, index=cols)
    b = attribution.brinson_fachler(wp, wb, r, groups)
    rp = float(np.prod(1 + (wp * r).sum(axis=1)) - 1)
    rb = float(np.prod(1 + r.mean(axis=1)) - 1)
    assert b.portfolio_return == pytest.approx(rp) and b.benchmark_return == pytest.approx(rb)
    assert b.allocation + b.selection + b.interaction == pytest.approx(rp - rb, abs=1e-12)
    # one period by hand: sector s1 overweight, s2 underweight
    r1 = pd.DataFrame([[0.10, 0.00, -0.05, 0.05, 0.02]], columns=cols)
    wp1 = pd.DataFrame([[0.3, 0.2, 0.1, 0.1, 0.3]], columns=cols)
    b1 = attribution.brinson_fachler(wp1, wb, r1, groups)
    rb1 = 0.024
    # s1: wp .5, wb .4, rp (0.03)/.5=.06, rb .05; allocation (.1)(.05-.024)
    assert b1.by_sector.loc["s1", "allocation"] == pytest.approx(0.1 * (0.05 - rb1))
    assert b1.by_sector.loc["s1", "selection"] == pytest.approx(0.4 * 0.01)
    assert b1.by_sector.loc["s1", "interaction"] == pytest.approx(0.1 * 0.01)
    assert b1.active_return == pytest.approx(0.03 + 0.0 + 0.006 - rb1)


def test_contributions_and_factors_add_up():
    r = _returns(1, 80, 4)
    w = pd.DataFrame(0.25, index=r.index, columns=r.columns)
    c = attribution.contributions(w, r, {"A": "x", "B": "x", "C": "y", "D": "y"})
    rp = (w * r).sum(axis=1)
    assert c.sum() == pytest.approx(float(np.prod(1 + rp) - 1))
    f = attribution.factor_attribution(rp, r, n_factors=2)
    assert f.sum() == pytest.approx(rp.sum())
    d = attribution.drags(traded_value=2e6, costs=1e3, taxes=5e3, average_value=1e6, years=2)
    assert d == {"turnover_annual": 1.0, "cost_drag_annual": 5e-4, "tax_drag_annual": 2.5e-3}


# ----------------------------------------------------------------------------- the strategy
@pytest.fixture(scope="module")
def crash_run():
    prices, crash_start, crash_end = crash_prices()
    strat = Autopilot(settings=SYNTH)
    return prices, crash_start, crash_end, strat, run_loop(strat, prices)


def test_override_on_synthetic_crash_and_restore_after(crash_run):
    prices, crash_start, crash_end, _, decisions = crash_run
    enters = [d for d in decisions if d.details["action"] == "override_enter"]
    restores = [d for d in decisions if d.details["action"] == "override_restore"]
    assert enters and restores
    first = enters[0]
    assert crash_start < first.date <= crash_start + pd.Timedelta(days=45)
    assert any(w in first.reason for w in ("VaR", "drawdown"))
    assert first.weights.sum() == pytest.approx(0.5, abs=0.01)  # defensive: half in cash
    restore = next(d for d in restores if d.date > first.date)
    assert restore.date > crash_end and restore.weights.sum() > 0.95
    # hysteresis: defensive throughout the crash once entered
    between = [d for d in decisions if first.date <= d.date <= crash_end]
    assert all(d.weights.sum() < 0.6 for d in between)


def test_every_trade_has_an_explanation(crash_run):
    *_, decisions = crash_run
    n = 0
    for d in decisions:
        trades_ = d.details["trades"]
        assert (d.details["action"] == "hold") == (not trades_) or d.details["action"] == "refused"
        for t in trades_:
            n += 1
            assert t["why"] and t["ticker"] in d.weights.index
            assert d.weights[t["ticker"]] == pytest.approx(t["weight_after"], abs=1e-9)
        assert explain.explain({"date": d.date, **d.details})
    assert n > 20
    text = explain.render([{"date": d.date, **d.details} for d in decisions])
    assert "defensive allocation" in text
    sold = next(d for d in decisions if d.details["action"] == "override_enter")
    t = next(t for t in sold.details["trades"] if t["side"] == "sell")
    answer = explain.why_trade([{"date": d.date, **d.details} for d in decisions],
                               t["ticker"], str(sold.date.date()))
    assert answer.startswith(f"On {sold.date.date()} the autopilot sold")
    assert "risk override" in answer


def test_no_look_ahead_future_perturbation_leaves_past_decisions():
    prices, crash_start, _ = crash_prices(seed=4)
    cut = prices.index[420]
    bumped = prices.copy()
    rng = np.random.default_rng(9)
    later = bumped.index > cut
    bumped.loc[later] *= np.exp(rng.normal(0, 0.05, bumped.loc[later].shape))
    a = run_loop(Autopilot(settings=SYNTH), prices.iloc[:560], every=7)
    b = run_loop(Autopilot(settings=SYNTH), bumped.iloc[:560], every=7)
    past = [i for i, d in enumerate(a) if d.date <= cut]
    assert len(past) > 30
    for i in past:
        pd.testing.assert_series_equal(a[i].weights, b[i].weights)
        assert a[i].reason == b[i].reason
    assert any(not a[i].weights.equals(b[i].weights) for i in range(len(a)) if a[i].date > cut)


def test_after_tax_below_pre_tax_when_gains_are_realised():
    prices, _, _ = crash_prices(seed=2)
    calm = prices.iloc[:500]  # the bull segment only: rebalancing realises gains
    strat = Autopilot(settings={**SYNTH, "rebalance_threshold": 0.02, "window": 63,
                                "calendar": "monthly"})
    # every 5 sessions, then the last one: the year-end of the last full year has been taxed
    dates = calm.index[strat.min_history:-1:5].append(calm.index[-1:])
    simulator.run(strat, calm, dates=dates, **ACCOUNT)
    summary = strat.tax_summary()
    res = strat.after_tax()
    assert summary["realized_short_term"] + summary["realized_long_term"] > 0
    assert res["taxes_paid"] > 0
    assert res["after_tax_return"] < res["pre_tax_return"]


def test_tax_loss_harvest_moves_into_substitute_and_blocks_rebuy():
    prices, crash_start, _ = crash_prices(seed=1)
    strat = Autopilot(settings={**SYNTH, "tax_optimization": True,
                                "override": {"enabled": False}, "var_limit": -0.5,
                                "tax": {"harvest_threshold": 0.05}})
    decisions = run_loop(strat, prices.iloc[:700], every=5)
    harvests = [d for d in decisions if d.details.get("harvests")]
    assert harvests
    h = harvests[0].details["harvests"][0]
    sells = [t for t in harvests[0].details["trades"] if t["ticker"] == h["ticker"]]
    assert sells and sells[0]["side"] == "sell" and "tax-loss harvest" in sells[0]["why"]
    # for 30 days after the harvest the ticker is not bought back
    after = [d for d in decisions
             if harvests[0].date < d.date <= harvests[0].date + pd.Timedelta(days=31)]
    for d in after:
        assert not any(t["ticker"] == h["ticker"] and t["side"] == "buy"
                       for t in d.details["trades"])
    assert strat.tax_summary()["wash_sale_disallowed"] == pytest.approx(0.0, abs=1e-6)


def test_partial_sale_of_one_lot_is_not_a_wash_but_a_second_lot_is():
    book = tax.TaxBook(wash_days=30)
    book.buy("X", 100, 100.0, D("2020-03-02"))
    assert not book.sale_would_wash("X", 40, 90.0, D("2020-03-10"))
    [r] = book.sell("X", 40, 90.0, D("2020-03-10"))  # the rest of the same lot stays
    assert r.disallowed == 0.0 and r.gain == pytest.approx(-400.0)
    book.buy("X", 10, 95.0, D("2020-03-12"))  # a new lot 2 days after the loss sale
    assert r.disallowed == pytest.approx(100.0)  # 10 of the 40 shares replaced
    # hifo sells the new lot (basis 105) first: the older lot bought 18 days before replaces it
    assert book.sale_would_wash("X", 5, 80.0, D("2020-03-20"))
    assert not book.sale_would_wash("X", 70, 80.0, D("2020-03-20"))  # both lots sold


def test_attribution_summary_from_positions_reproduces_the_book_return():
    prices = pd.DataFrame({"A": [10.0, 11.0, 12.1, 11.0], "B": [20.0, 20.0, 21.0, 22.0]},
                          index=pd.bdate_range("2020-01-01", periods=4))
    shares = {"A": 100, "B": 50}
    pos = pd.DataFrame({t: prices[t] * n for t, n in shares.items()})
    pos["cash"] = 500.0
    out = attribution.summary(pos, prices, {"A": "x", "B": "y"}, traded_value=0.0,
                              costs=0.0, taxes=0.0, n_factors=1)
    value = pos.sum(axis=1)
    book = value.iloc[-1] / value.iloc[0] - 1
    assert out["brinson"].portfolio_return == pytest.approx(book)
    assert out["by_asset"].sum() == pytest.approx(book)
    b = out["brinson"]
    assert b.allocation + b.selection + b.interaction == pytest.approx(b.active_return)


def test_substitutes_follow_the_user_map_then_correlation():
    rng = np.random.default_rng(5)
    base = rng.normal(0, 0.01, 300)
    r = pd.DataFrame({"A": base + rng.normal(0, 0.001, 300),
                      "B": base + rng.normal(0, 0.003, 300),
                      "C": rng.normal(0, 0.01, 300)})
    ranked = tax.substitute_candidates(r)
    assert ranked["A"] == ["B", "C"] and ranked["C"][-1] != "C"
    assert tax.substitute_candidates(r, {"A": "C"})["A"] == ["C", "B"]
    assert tax.substitute_map(r)["A"] == "B"


def test_promoted_dqn_policy_proposes_the_normal_target(monkeypatch):
    import autoport.strategies.dqn as dqn_mod
    from autoport.decision import Book, Decision

    class FakePolicy:  # stands in for a registered model: all in the first asset
        min_history = 10

        def __init__(self, *, model_uri):
            self.model_uri = model_uri

        def decide(self, history, book=None):
            assert book is not None and book.value == 1e7  # the autopilot's own book
            w = pd.Series(0.0, index=history.columns)
            w.iloc[0] = 1.0
            return Decision(history.index[-1], w, "all in the first asset")

    monkeypatch.setattr(dqn_mod, "DQNPolicy", FakePolicy)
    prices, _, _ = crash_prices()
    strat = Autopilot(settings={**SYNTH, "dqn_model_uri": "models:/dqn@champion",
                                "max_position": 0.4})
    d = strat.decide(prices.iloc[:200], Book.all_cash(prices.iloc[199], cash=1e7))
    assert d.details["objective"] == "dqn policy models:/dqn@champion"
    # the policy's 100 % proposal is cut to the 40 % position limit by the pre-trade check
    assert d.weights["A0"] == pytest.approx(0.4, abs=0.01)
    reasons = d.details["risk_check"]["reasons"]
    assert "A0 capped from 100.00% to the 40.00% position limit" in reasons


@pytest.mark.parametrize("days, washed", [(0, True), (30, True), (31, False)])
def test_wash_sale_window_edges_in_both_directions(days, washed):
    # sell at a loss, then buy back `days` later
    book = tax.TaxBook(wash_days=30)
    book.buy("X", 10, 100.0, D("2020-01-02"))
    [r] = book.sell("X", 10, 80.0, D("2020-03-02"))
    book.buy("X", 10, 81.0, D("2020-03-02") + pd.Timedelta(days=days))
    assert r.disallowed == pytest.approx(200.0 if washed else 0.0)
    assert book.loss_sold_within("X", D("2020-03-02") + pd.Timedelta(days=days)) == washed
    # buy a replacement `days` before a loss sale of another lot (both lots are recent
    # enough that no lot order avoids the wash when the replacement is inside the window)
    book = tax.TaxBook(wash_days=30, lot_method="hifo")
    sale = D("2020-03-02")
    rep = book.buy("Y", 10, 90.0, sale - pd.Timedelta(days=days))
    book.buy("Y", 10, 100.0, sale - pd.Timedelta(days=1))  # hifo sells this lot
    [r] = book.sell("Y", 10, 80.0, sale)
    assert r.cost == pytest.approx(1000.0)
    assert r.disallowed == pytest.approx(200.0 if washed else 0.0)
    assert rep.basis == pytest.approx(110.0 if washed else 90.0)


def test_strategy_drift_trigger_fires_exactly_when_drift_reaches_the_threshold():
    prices, _, _ = crash_prices(seed=6)
    thr = 0.02
    strat = Autopilot(settings={**SYNTH, "rebalance_threshold": thr, "calendar": "never",
                                "total_drift_threshold": None, "override": {"enabled": False},
                                "var_limit": -0.5})
    decisions = run_loop(strat, prices.iloc[:420], every=5)
    fired_on = []
    for d in decisions:
        x = d.details["inputs"]
        if x["drift_max"] is None:
            continue
        fired = any("off its target" in t for t in d.details["trigger"])
        assert fired == (x["drift_max"] >= thr - 1e-12), (d.date, x["drift_max"])
        if fired:
            fired_on.append(x["drift_max"])
    assert fired_on and len(fired_on) < len(decisions) - 1  # fires sometimes, not always
    assert min(fired_on) >= thr - 1e-12


def test_attribution_reconciles_gross_costs_and_residual_with_the_engine_by_hand():
    days = pd.bdate_range("2020-01-01", periods=4)
    prices = pd.DataFrame({"A": [10.0, 11.0, 12.1, 11.0], "B": [20.0, 20.0, 21.0, 22.0]},
                          index=days)
    # the engine: 10,000 cash; on day 1 it buys 100 A at the close plus 5 bp slippage and
    # pays 1 bp commission on the fill's value
    fill = 11.0 * 1.0005
    commission = 100 * fill * 1e-4
    cash = 10_000.0 - 100 * fill - commission
    pos = pd.DataFrame({"A": [0.0, 1100.0, 1210.0, 1100.0], "B": 0.0,
                        "cash": [10_000.0, cash, cash, cash]}, index=days)
    value = pos.sum(axis=1)
    engine = value.pct_change().fillna(0.0)  # the engine's own daily returns
    txns = pd.DataFrame({"symbol": ["A"], "amount": [100], "price": [fill]},
                        index=pd.DatetimeIndex([days[1]]))
    rec = attribution.reconcile(pos, prices, engine_returns=engine, transactions=txns,
                                commission_bps=1.0)
    d = rec.daily
    # costs on the fill day over the previous value; gross from yesterday's weights
    assert d.at[days[1], "slippage"] == pytest.approx(100 * (fill - 11.0) / 10_000.0)
    assert d.at[days[1], "commission"] == pytest.approx(commission / 10_000.0)
    assert d.at[days[1], "gross"] == 0.0
    assert d.at[days[2], "gross"] == pytest.approx(1100.0 / value.iloc[1] * 0.1)
    assert d["residual"].abs().max() < 1e-12
    link = rec.linked()
    total = value.iloc[-1] / 10_000.0 - 1.0
    assert link["engine_return"] == pytest.approx(total)
    assert link["gross_return"] - link["cost_drag"] - link["residual"] == pytest.approx(
        total, abs=1e-15)
    assert link["cost_drag"] == pytest.approx(link["commission_drag"] + link["slippage_drag"])
    # one costly day: its linked cost is its daily cost times that day's Carino factor
    k = attribution.engine_factors(engine)
    assert link["cost_drag"] == pytest.approx(k[days[1]] * (d.at[days[1], "commission"]
                                                            + d.at[days[1], "slippage"]))
    out = attribution.summary(pos, prices, {"A": "x", "B": "y"}, engine_returns=engine,
                              transactions=txns, commission_bps=1.0, after_tax_return=-0.02,
                              n_factors=1)
    assert out["by_asset"].sum() == pytest.approx(link["gross_return"])
    assert out["by_sector"]["x"] == pytest.approx(link["gross_return"])
    assert out["taxes"]["pre_tax_return"] - out["taxes"]["tax_drag"] == pytest.approx(-0.02)


def test_decisions_md_says_each_decision_once_and_lists_its_trades():
    trigger = "risk override enter: drawdown -12.00% passed the -10.00% limit"
    trades_ = [
        {"ticker": "XOM", "side": "sell", "shares": -300, "price": 50.0, "weight_before": 0.1,
         "weight_after": 0.04, "reason": "target", "why": f"sell toward the target because "
                                                            f"{trigger}"},
        {"ticker": "KO", "side": "sell", "shares": -100, "price": 40.0, "weight_before": 0.1,
         "weight_after": 0.05, "reason": "target", "why": f"sell toward the target because "
                                                           f"{trigger}"},
        {"ticker": "PFE", "side": "sell", "shares": -50, "price": 30.0, "weight_before": 0.02,
         "weight_after": 0.0, "reason": "harvest",
         "why": "tax-loss harvest: realise a 8.0% loss (1,200) and buy MRK to keep the exposure"},
    ]
    rec = {"date": "2008-10-01", "action": "override_enter", "trigger": [trigger],
           "rule": "defensive: min_variance with 50% cash", "inputs": {}, "trades": trades_}
    hold = {"date": "2008-11-03", "action": "hold", "trigger": [], "trades": []}
    md = explain.render([rec, hold])
    assert md.count(trigger) == 1  # the reason once, not once per trade
    assert md.count("### ") == 1  # holds are not key decisions
    assert "### 2008-10-01: switched to the defensive allocation" in md
    assert "- sold 300 XOM at 50.00 (10.00% -> 4.00%)\n" in md
    assert "- sold 50 PFE at 30.00 (2.00% -> 0.00%): tax-loss harvest: realise a 8.0%" in md
    # "why did it sell KO on that day?" is still answered from the records
    answer = explain.why_trade([rec, hold], "KO", "2008-10-02")
    assert answer.startswith("On 2008-10-01 the autopilot sold 100 KO") and trigger in answer
