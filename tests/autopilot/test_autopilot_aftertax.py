"""After-tax returns from a run's trades: hand-checked cases, and the same treatment for the
autopilot and 1/N (the autopilot's own tax book equals the replay of its engine trades)."""

from __future__ import annotations

import pandas as pd
import pytest

from autoport.autopilot import aftertax

D = pd.Timestamp


def _tx(rows):
    frame = pd.DataFrame(rows, columns=["date", "symbol", "amount", "price"])
    return frame.set_index("date")


def _sessions():
    # a few sessions around two year-ends (weekends and Jan 1 skipped)
    days = ["2020-01-02", "2020-01-03", "2020-06-01", "2020-12-31", "2021-01-04",
            "2021-01-05", "2021-01-08"]
    return pd.DatetimeIndex([D(d) for d in days])


def test_short_term_gain_taxed_next_year_as_a_withdrawal_by_hand():
    sessions = _sessions()
    returns = pd.Series(0.0, index=sessions)
    returns[D("2020-01-03")] = 0.01  # value 1000 -> 1010, then flat
    tx = _tx([(D("2020-01-02"), "A", 100, 10.0),  # lot: 100 A at 10
              (D("2020-06-01"), "A", -50, 14.0)])  # short-term gain 50 * 4 = 200
    fig, at = aftertax.summarize(returns, tx, capital=1000.0, short_rate=0.37, long_rate=0.2)
    # tax 0.37 * 200 = 74, paid on the first session of 2021 out of the 1010 account
    assert fig["taxes_paid"] == pytest.approx(74.0)
    assert fig["realized_short_term"] == pytest.approx(200.0)
    assert fig["years"][0]["paid_on"] == D("2021-01-04")
    assert at[D("2021-01-04")] == pytest.approx(-74.0 / 1010.0)
    assert fig["pre_tax_return"] == pytest.approx(0.01)
    assert fig["after_tax_return"] == pytest.approx((1010.0 - 74.0) / 1000.0 - 1.0)  # -6.4 %
    assert (at.drop(D("2021-01-04")) == returns.drop(D("2021-01-04"))).all()


def test_same_rates_for_both_runs_long_term_carryforward_and_last_year_by_hand():
    sessions = _sessions()
    flat = pd.Series(0.0, index=sessions)
    # "1/N": a long-term gain realised in the last, partial year: charged on the last session
    rebalancer = _tx([(D("2020-01-02"), "A", 100, 10.0),
                      (D("2021-01-05"), "A", -100, 13.0)])  # held 369 days: long-term 300
    # "autopilot": a 2020 short-term loss of 100 carried into 2021 against a 250 gain
    harvester = _tx([(D("2020-01-02"), "A", 10, 100.0), (D("2020-01-02"), "B", 10, 50.0),
                     (D("2020-06-01"), "A", -10, 90.0),  # loss 100
                     (D("2021-01-05"), "B", -10, 75.0)])  # held 369 days: long-term 250
    out, series = aftertax.compare({"strategy": (flat, harvester), "baseline": (flat, rebalancer)},
                                   capital=10_000.0, short_rate=0.4, long_rate=0.2)
    base, strat = out["baseline"], out["strategy"]
    assert base["taxes_paid"] == pytest.approx(0.2 * 300)
    assert base["years"][-1]["paid_on"] == D("2021-01-08")
    assert base["after_tax_return"] == pytest.approx(-60.0 / 10_000.0)
    assert strat["years"][0]["tax"] == 0.0 and strat["years"][0]["carryforward_loss"] == 100.0
    # the carried short-term loss offsets the long-term gain: 0.2 * (250 - 100)
    assert strat["taxes_paid"] == pytest.approx(0.2 * 150)
    assert strat["after_tax_return"] == pytest.approx(-30.0 / 10_000.0)
    assert out["short_term_rate"] == 0.4 and "withdrawal" in out["method"]
    assert list(series.columns) == ["strategy", "baseline"]
    assert series.loc[D("2021-01-08"), "baseline"] == pytest.approx(-60.0 / 10_000.0)


def test_after_tax_never_above_pre_tax_and_equal_without_gains():
    sessions = _sessions()
    returns = pd.Series([0.0, 0.02, -0.01, 0.01, 0.0, 0.005, 0.0], index=sessions)
    losses = _tx([(D("2020-01-02"), "A", 10, 100.0), (D("2020-06-01"), "A", -10, 80.0)])
    fig, at = aftertax.summarize(returns, losses, capital=1e4, short_rate=0.37, long_rate=0.2)
    assert fig["taxes_paid"] == 0.0 and fig["after_tax_return"] == fig["pre_tax_return"]
    gains = _tx([(D("2020-01-02"), "A", 10, 100.0), (D("2020-06-01"), "A", -10, 120.0)])
    fig, _ = aftertax.summarize(returns, gains, capital=1e4, short_rate=0.37, long_rate=0.2)
    assert fig["taxes_paid"] > 0 and fig["after_tax_return"] < fig["pre_tax_return"]
    assert fig["after_tax_annual_return"] < fig["pre_tax_annual_return"]


def test_replay_applies_the_wash_sale_rule_like_the_book():
    tx = _tx([(D("2020-01-02"), "A", 100, 100.0), (D("2020-03-02"), "A", -100, 90.0),
              (D("2020-03-20"), "A", 100, 91.0)])  # rebought 18 days after the loss sale
    book = aftertax.replay(tx)
    assert book.realized[0].disallowed == pytest.approx(1000.0)
    assert book.lots["A"][0].basis == pytest.approx(101.0)
