"""After-tax returns of any run from its executed trades: one tax-lot book, one set of rates.

How the after-tax figures are computed (the same way for the autopilot and for 1/N):

1. **Trades.** The engine's transactions (shares and fill price, slippage included; the
   commission is not added to the basis) are replayed, in order, into a
   :class:`~autoport.autopilot.tax.TaxBook`: one lot per purchase, sales by ``lot_method``,
   the 30-day wash-sale rule in both directions, short-term up to 365 days held.
2. **Tax.** Each calendar year's realised gains are netted by
   :func:`~autoport.autopilot.tax.annual_tax` (short against long, losses carried forward);
   the year's tax is paid on the first session of the next year. The last, partial year's tax
   is charged on the last session: it is owed even though not yet paid. Unrealised gains are
   not taxed (nothing is liquidated at the end).
3. **Returns.** The engine's return series is *pre-tax*: taxes are not withdrawn from the
   zipline account (zipline-reloaded's only cash movements are ``capital_changes`` fixed
   before the run, while the tax depends on the run's own trades). The tax is taken out
   afterwards, as a withdrawal from the value of the session before it is paid:
   ``r_at_t = r_t − T_t / V_{t−1}`` with ``V`` the pre-tax account value. This is exact for an
   account that, after each payment, is a scaled-down copy of the pre-tax one (its later
   trades, gains and taxes all scale with it); the sales that would raise the cash, and any
   gains those sales would realise themselves, are not modelled.

Pure functions on frames and series; nothing here prints or reads files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoport.autopilot import tax
from autoport.errors import DataError

PERIODS_PER_YEAR = 252
METHOD = (
    "pre-tax: the engine's returns; after-tax: the run's executed trades replayed into one "
    "tax-lot book (lot method {lot}, {wash}-day wash-sale rule), each calendar year's net "
    "realised gains taxed at {st:.0%} short-term / {lt:.0%} long-term (losses carried "
    "forward), paid on the first session of the next year (the last, partial year's tax on "
    "the last session) as a withdrawal: r_t - tax_t / V_(t-1); unrealised gains untaxed"
)


@dataclass(frozen=True)
class TaxResult:
    """A run's tax book, its tax payments (currency, by session) and the year-by-year table."""

    book: tax.TaxBook
    payments: pd.Series
    years: list[dict]
    carryforward: float


def replay(transactions: pd.DataFrame, *, wash_days: int = 30,
           lot_method: str = "hifo") -> tax.TaxBook:
    """A tax book from engine transactions (index = date; ``symbol``, ``amount``, ``price``)."""
    book = tax.TaxBook(wash_days=wash_days, lot_method=lot_method)
    if transactions is None or len(transactions) == 0:
        return book
    missing = {"symbol", "amount", "price"} - set(transactions.columns)
    if missing:
        raise DataError(f"transactions need columns symbol, amount, price; missing {missing}")
    dates = pd.DatetimeIndex(transactions.index)
    order = np.argsort(dates.to_numpy(), kind="stable")
    for i in order:
        row = transactions.iloc[i]
        day = pd.Timestamp(dates[i]).tz_localize(None) if dates.tz is not None else dates[i]
        amount, price = float(row["amount"]), float(row["price"])
        if amount > 0:
            book.buy(str(row["symbol"]), amount, price, day)
        elif amount < 0:
            book.sell(str(row["symbol"]), -amount, price, day)
    return book


def tax_payments(
    book: tax.TaxBook, sessions: pd.DatetimeIndex, *, short_rate: float, long_rate: float,
    charge_last_year: bool = True,
) -> TaxResult:
    """Tax per calendar year of ``book``'s realised gains, paid on ``sessions``.

    A year's tax falls on the first session of a later year; the last year's on the last
    session when ``charge_last_year`` (else it is left out: not yet due).
    """
    sessions = pd.DatetimeIndex(sessions)
    if len(sessions) == 0:
        raise DataError("tax payments need at least one session")
    payments = pd.Series(0.0, index=sessions)
    years, carry = [], 0.0
    for year in range(sessions[0].year, sessions[-1].year + 1):
        start = pd.Timestamp(f"{year - 1}-12-31")
        end = pd.Timestamp(f"{year}-12-31")
        realized = book.realized_between(start, end)
        due, carry, parts = tax.annual_tax(realized, short_rate=short_rate,
                                           long_rate=long_rate, carryforward=carry)
        later = sessions[sessions > end]
        if len(later):
            paid_on = later[0]
        elif charge_last_year:
            paid_on = sessions[-1]
        else:
            paid_on = None
        if paid_on is not None:
            payments[paid_on] += due
        years.append({"year": year, "tax": due, "paid_on": paid_on,
                      "carryforward_loss": carry, **parts})
    return TaxResult(book, payments, years, carry)


def after_tax_returns(returns: pd.Series, payments: pd.Series, capital: float) -> pd.Series:
    """``r_t − T_t / V_{t−1}``, where ``V`` is the pre-tax value grown from ``capital``."""
    values = capital * (1.0 + returns).cumprod()
    before = values.shift(1).fillna(capital)
    drag = payments.reindex(returns.index, fill_value=0.0) / before
    return (returns - drag).rename("after_tax")


def after_tax_drag(returns: np.ndarray, payments: np.ndarray, capital: float) -> np.ndarray:
    """:func:`after_tax_returns` on arrays over the same sessions (the same arithmetic)."""
    values = capital * np.cumprod(1.0 + returns)
    before = np.concatenate(([capital], values[:-1]))
    return returns - payments / before


def _annual(total: float, sessions: int) -> float:
    if sessions <= 0 or total <= -1.0:
        return float("nan")
    return float((1.0 + total) ** (PERIODS_PER_YEAR / sessions) - 1.0)


def summarize(returns: pd.Series, transactions: pd.DataFrame, *, capital: float,
              short_rate: float, long_rate: float, wash_days: int = 30,
              lot_method: str = "hifo") -> tuple[dict, pd.Series]:
    """Pre- and after-tax figures of one run, and its after-tax daily returns."""
    returns = returns.astype(float).fillna(0.0)
    book = replay(transactions, wash_days=wash_days, lot_method=lot_method)
    res = tax_payments(book, returns.index, short_rate=short_rate, long_rate=long_rate)
    at = after_tax_returns(returns, res.payments, capital)
    pre = float((1.0 + returns).prod() - 1.0)
    post = float((1.0 + at).prod() - 1.0)
    realized = book.realized
    figures = {
        "pre_tax_return": pre,
        "after_tax_return": post,
        "pre_tax_annual_return": _annual(pre, len(returns)),
        "after_tax_annual_return": _annual(post, len(returns)),
        "taxes_paid": float(res.payments.sum()),  # currency
        "taxes_paid_share": float(res.payments.sum()) / capital,  # of the starting capital
        "realized_short_term": float(sum(r.gain for r in realized if r.term == "short")),
        "realized_long_term": float(sum(r.gain for r in realized if r.term == "long")),
        "wash_sale_disallowed": float(sum(r.disallowed for r in realized)),
        "carryforward_loss": res.carryforward,
        "years": res.years,
    }
    return figures, at


def compare(runs: dict[str, tuple[pd.Series, pd.DataFrame]], *, capital: float,
            short_rate: float, long_rate: float, wash_days: int = 30,
            lot_method: str = "hifo") -> tuple[dict, pd.DataFrame]:
    """The same tax treatment for several runs (name → (returns, transactions)) on the same
    sessions: figures per run plus the method, and the after-tax daily returns side by side."""
    out: dict = {"method": METHOD.format(lot=lot_method, wash=wash_days, st=short_rate,
                                         lt=long_rate),
                 "short_term_rate": short_rate, "long_term_rate": long_rate,
                 "lot_method": lot_method, "wash_days": wash_days, "capital": capital}
    series = {}
    for name, (returns, transactions) in runs.items():
        out[name], series[name] = summarize(
            returns, transactions, capital=capital, short_rate=short_rate,
            long_rate=long_rate, wash_days=wash_days, lot_method=lot_method)
    return out, pd.DataFrame(series)
