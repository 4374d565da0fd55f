"""The autopilot's bookkeeping that grows with the run (tax lots and realised pieces, the daily
values) read without a pass over the whole history gives what the whole passes give: the tax
book's wash-sale window, its slices by date and its running summary against the same book
forced onto the full scans (``_sorted = False``, the previous code path), its copy against
``copy.deepcopy``, and the after-tax status of a :class:`ValueTrail` against the same pairs as
a plain tuple."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd

from autoport.autopilot import tax
from autoport.autopilot.settings import TaxSettings
from autoport.autopilot.state import AutopilotState, ValueTrail
from autoport.autopilot.tax import TaxBook

D = pd.Timestamp


def _trade(book: TaxBook, rng: np.random.Generator, day: pd.Timestamp) -> None:
    """A random buy or sale of one of three tickers, at a price near 100."""
    t = str(rng.choice(["A", "B", "C"]))
    price = float(100.0 * np.exp(rng.normal(0.0, 0.15)))
    held = book.shares(t)
    if held > 1 and rng.random() < 0.5:
        book.sell(t, float(np.floor(held * rng.uniform(0.2, 1.0))), price, day)
    else:
        book.buy(t, float(rng.integers(1, 20)), price, day)


def _full_scans(book: TaxBook) -> TaxBook:
    twin = copy.deepcopy(book)
    twin._sorted = False  # every query and wash-sale check scans all pieces, as before
    return twin


def test_windowed_tax_book_equals_the_full_scans_after_every_trade():
    rng = np.random.default_rng(7)
    fast, slow = TaxBook(wash_days=30), _full_scans(TaxBook(wash_days=30))
    days = pd.bdate_range("2018-01-02", "2021-12-31")
    washed = 0
    for day in days[::3]:
        for _ in range(int(rng.integers(0, 3))):
            state = rng.bit_generator.state
            _trade(fast, rng, day)
            rng.bit_generator.state = state
            _trade(slow, rng, day)
        assert fast == slow  # lots, realised pieces (wash-sale amounts), purchases
        assert fast.loss_sold_tickers(day) == slow.loss_sold_tickers(day)
        start = day - pd.Timedelta(days=int(rng.integers(0, 400)))
        assert fast.realized_between(start, day) == slow.realized_between(start, day)
        assert fast.realized_between(None, start) == slow.realized_between(None, start)
        got = tax.tax_summary(AutopilotState(taxbook=fast))
        assert got == tax.tax_summary(AutopilotState(taxbook=slow))  # to the bit
    washed = sum(r.disallowed > 0 for r in fast.realized)
    assert fast._sorted and not slow._sorted and len(fast.realized) > 100 and washed > 3


def test_summary_is_recomputed_when_a_wash_sale_changes_a_summed_piece():
    book = TaxBook(wash_days=30)
    book.buy("X", 100, 100.0, D("2020-01-02"))
    book.sell("X", 100, 90.0, D("2020-03-02"))
    before = tax.tax_summary(AutopilotState(taxbook=book))
    assert before["wash_sale_disallowed"] == 0.0
    book.buy("X", 100, 91.0, D("2020-03-20"))  # washes the summed loss
    after = tax.tax_summary(AutopilotState(taxbook=book))
    assert after["wash_sale_disallowed"] == 1000.0 and after["realized_short_term"] == 0.0


def test_copy_shares_pieces_until_a_wash_sale_then_each_book_keeps_its_own():
    book = TaxBook(wash_days=30)
    book.buy("X", 100, 100.0, D("2020-01-02"))
    book.sell("X", 100, 90.0, D("2020-03-02"))
    book.buy("Y", 10, 50.0, D("2020-03-02"))
    twin = book.copy()
    assert twin == copy.deepcopy(book)
    snapshot = copy.deepcopy(book)
    twin.buy("X", 100, 91.0, D("2020-03-20"))  # washes the loss sale both books hold
    assert twin.realized[0].disallowed == 1000.0
    assert book == snapshot and book.realized[0].disallowed == 0.0
    other = copy.deepcopy(twin)
    book.buy("X", 50, 92.0, D("2020-03-21"))  # and the parent's own wash leaves the twin
    assert book.realized[0].disallowed == 500.0 and twin == other
    # what a pickle holds is the book, not what it shares or has summed
    tax.tax_summary(AutopilotState(taxbook=book))
    assert pickle.dumps(book) == pickle.dumps(copy.deepcopy(book))
    assert pickle.loads(pickle.dumps(book)) == book


def _values(n: int = 600) -> tuple:
    days = pd.bdate_range("2019-01-02", periods=n)
    rng = np.random.default_rng(5)
    values = 1000.0 * np.cumprod(1.0 + rng.normal(3e-4, 0.01, n))
    return tuple((d, float(v)) for d, v in zip(days, values, strict=True))


def test_value_trail_is_its_pairs_and_grows_without_changing():
    pairs = _values()
    trail = ValueTrail(pairs[:200])
    grown = trail.extend(list(pairs[200:450])).extend(list(pairs[450:]))
    assert grown == pairs and trail == pairs[:200] and grown.increasing
    assert np.array_equal(grown.amounts, [v for _, v in pairs])
    assert not grown.amounts.flags.writeable
    assert grown.position(pairs[321][0]) == 321
    again = pickle.loads(pickle.dumps(grown))
    assert again == pairs and np.array_equal(again.amounts, grown.amounts)
    assert not ValueTrail((*pairs[:3], pairs[1])).increasing  # a session twice


def test_after_tax_status_of_a_trail_is_the_tuples_to_the_bit():
    book = TaxBook(wash_days=30)
    book.buy("A", 10, 100.0, D("2019-01-02"))
    book.sell("A", 4, 130.0, D("2020-03-02"))
    book.sell("A", 2, 150.0, D("2021-02-05"))
    pairs = _values()
    taxes = ((pairs[260][0], 3.25), (pairs[510][0], 7.5))
    rates = TaxSettings()
    plain = AutopilotState(taxbook=book, capital=1000.0, tax_year=2021, carryforward=1.5,
                           values=pairs, taxes_paid=taxes)
    trail = AutopilotState(taxbook=book, capital=1000.0, tax_year=2021, carryforward=1.5,
                           values=ValueTrail(pairs[:100]).extend(list(pairs[100:])),
                           taxes_paid=taxes)
    got = tax.after_tax(trail, rates)
    assert got == tax.after_tax(plain, rates)
    assert got["tax_owed_this_year"] > 0 and got["taxes_paid"] == 10.75
