"""The autopilot's per-decision bookkeeping on arrays gives the numbers of the pandas forms it
replaced, to the bit: the running after-tax status, the tax book's copy, the wash-sale blocks,
the tax summary and the window's daily returns."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from autoport import data
from autoport.autopilot import aftertax, risk_checks, tax
from autoport.autopilot.settings import TaxSettings
from autoport.autopilot.state import AutopilotState
from autoport.autopilot.tax import TaxBook
from autoport.strategies.autopilot import _after, _simple_returns

D = pd.Timestamp


def _book() -> TaxBook:
    """Gains and losses, short and long term, and a wash sale (bought back within 30 days)."""
    b = TaxBook(wash_days=30)
    b.buy("A", 10, 100.0, D("2019-01-02"))
    b.buy("B", 5, 50.0, D("2019-03-01"))
    b.buy("C", 8, 20.0, D("2020-02-03"))
    b.sell("A", 4, 130.0, D("2020-03-02"))  # long-term gain
    b.sell("B", 5, 40.0, D("2020-03-02"))  # loss ...
    b.buy("B", 2, 41.0, D("2020-03-20"))  # ... partly washed by this purchase
    b.sell("C", 3, 15.0, D("2020-03-25"))  # short-term loss, C blocked for 30 days
    b.sell("A", 2, 150.0, D("2021-01-05"))  # long-term gain this year
    return b


def _state(book: TaxBook) -> AutopilotState:
    days = pd.bdate_range("2019-01-02", "2021-01-08")
    rng = np.random.default_rng(3)
    values = 1000.0 * np.cumprod(1.0 + rng.normal(3e-4, 0.01, len(days)))
    return AutopilotState(taxbook=book, capital=1000.0, tax_year=2021, carryforward=1.5,
                          values=tuple(zip(days, values, strict=True)),
                          taxes_paid=((D("2020-01-02"), 3.25), (D("2021-01-04"), 7.5)))


def _after_tax_pandas(state: AutopilotState, rates: TaxSettings) -> dict:
    """The previous implementation, on Series (the reference)."""
    vals = pd.Series(dict(state.values))
    vals = vals[~vals.index.duplicated(keep="last")]
    taxes = pd.Series(0.0, index=vals.index)
    for day, amount in state.taxes_paid:
        taxes[day] += amount
    this_year = state.taxbook.realized_between(
        pd.Timestamp(f"{state.tax_year}-01-01") - pd.Timedelta(days=1), vals.index[-1])
    owed, _, _ = tax.annual_tax(this_year, short_rate=rates.short_term_rate,
                                long_rate=rates.long_term_rate, carryforward=state.carryforward)
    taxes.iloc[-1] += owed
    rets = vals.pct_change().fillna(0.0)
    at = aftertax.after_tax_returns(rets, taxes, float(vals.iloc[0]))
    start = float(vals.iloc[0]) / state.capital
    return {"pre_tax_return": float(vals.iloc[-1] / state.capital - 1.0),
            "after_tax_return": float((1.0 + at).prod() * start - 1.0),
            "taxes_paid": float(taxes.sum() - owed), "tax_owed_this_year": float(owed)}


def test_after_tax_status_is_the_series_arithmetic_to_the_bit():
    state, rates = _state(_book()), TaxSettings()
    got = tax.after_tax(state, rates)
    assert got == _after_tax_pandas(state, rates)
    assert got["tax_owed_this_year"] > 0  # the year's realised gain is taxed


def test_tax_book_copy_is_a_deep_copy_and_independent():
    book = _book()
    twin = book.copy()
    assert twin == copy.deepcopy(book)
    twin.sell("A", 4, 120.0, D("2021-02-01"))
    twin.buy("C", 1, 14.0, D("2021-02-01"))
    assert book == _book() and twin != book


def test_blocked_tickers_and_summary_match_the_per_ticker_forms():
    book = _book()
    for day in pd.bdate_range("2020-03-01", "2020-05-01"):
        assert book.loss_sold_tickers(day) == {
            t for t in ("A", "B", "C") if book.loss_sold_within(t, day)}
    # B sold at a loss 23 days before, C that day; 39 days after B only C is left
    assert book.loss_sold_tickers(D("2020-03-25")) == {"B", "C"}
    assert book.loss_sold_tickers(D("2020-04-10")) == {"C"}
    realized = book.realized
    assert tax.tax_summary(_state(book)) == {
        "realized_short_term": sum(r.gain for r in realized if r.term == "short"),
        "realized_long_term": sum(r.gain for r in realized if r.term == "long"),
        "wash_sale_disallowed": sum(r.disallowed for r in realized),
        "taxes_paid": 10.75, "carryforward_loss": 1.5}


def test_window_returns_are_pct_change_in_its_memory_order():
    prices = data.bundled_prices().iloc[-253:]
    ref = prices.pct_change().iloc[1:]
    got = _simple_returns(prices)
    pd.testing.assert_frame_equal(got, ref, check_exact=True, check_freq=False)
    # the same layout: a BLAS product with it (the VaR's x @ w) rounds the same way
    assert got.to_numpy().flags.c_contiguous == ref.to_numpy().flags.c_contiguous
    w = np.full(prices.shape[1], 1.0 / prices.shape[1])
    assert np.array_equal(got.to_numpy() @ w, ref.to_numpy() @ w)


def test_long_only_and_sessions_after_are_clip_and_the_boolean_mask():
    w = pd.Series([0.3, -1e-12, -0.0, np.nan, 0.7], index=list("ABCDE"), name="weight")
    got, ref = risk_checks.long_only(w), w.clip(lower=0.0)
    pd.testing.assert_series_equal(got, ref, check_exact=True)
    assert np.array_equal(np.signbit(got.to_numpy()), np.signbit(ref.to_numpy()))
    prices = data.bundled_prices().iloc[-40:]
    for day in (prices.index[0], prices.index[17], prices.index[-1], D("1999-01-01")):
        pd.testing.assert_frame_equal(_after(prices, day), prices.loc[prices.index > day])
