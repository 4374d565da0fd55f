"""Tax lots, realised gains, the 30-day wash-sale rule and tax-loss harvesting.

A :class:`TaxBook` holds one lot per purchase. Sales consume lots (highest cost first,
``hifo``, or ``fifo``) and realise gains: *short-term* when the lot was held at most 365 days,
*long-term* otherwise.

Wash sales (US IRC §1091, simplified to same-ticker replacements), in both directions:

- **buy then sell**: a loss sale is disallowed to the extent shares of the same ticker were
  bought in the ``wash_days`` before it (lots not consumed by that sale);
- **sell then buy**: a purchase within ``wash_days`` after a loss sale disallows that loss
  (again up to the replacement share count).

A disallowed loss is added to the replacement lot's basis, as the rule prescribes, so it is
deferred rather than lost. When the ``lot_method`` order would wash a loss and selling the
lots bought inside the window first would not, :meth:`TaxBook.sell` sells those first.
The harvester avoids both: it only harvests lots of tickers not bought in the last
``wash_days``, moves the proceeds into a *different*, correlated ticker
(the substitute map), and blocks repurchase of the harvested ticker for ``wash_days``.

Tax is computed per calendar year on net short- and long-term gains (each net loss offsets
the other bucket; what remains is carried forward). Amounts are in currency; dates are
sessions. The estimated tax of the autopilot's running account (year-end tax, carryforward,
after-tax figures) is at the end: pure functions over its state. Nothing here prints or reads
files.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from autoport.errors import DataError

if TYPE_CHECKING:  # the state holds a TaxBook: imported for annotations only
    from autoport.autopilot.settings import TaxSettings
    from autoport.autopilot.state import AutopilotState

LONG_TERM_DAYS = 365


@dataclass
class TaxLot:
    ticker: str
    shares: float
    basis: float  # per share, including any disallowed loss added by a wash sale
    acquired: pd.Timestamp
    lot_id: int = 0


@dataclass
class Realized:
    ticker: str
    shares: float
    proceeds: float
    cost: float
    acquired: pd.Timestamp
    sold: pd.Timestamp
    disallowed: float = 0.0  # wash-sale loss not recognised now (positive number)
    lot_id: int = 0  # the lot this piece was sold from

    @property
    def term(self) -> str:
        return "long" if (self.sold - self.acquired).days > LONG_TERM_DAYS else "short"

    @property
    def gain(self) -> float:
        """Recognised gain: the raw gain plus any disallowed part of a loss."""
        return self.proceeds - self.cost + self.disallowed

    def as_dict(self) -> dict:
        return {"ticker": self.ticker, "shares": self.shares, "proceeds": self.proceeds,
                "cost": self.cost, "acquired": self.acquired, "sold": self.sold,
                "term": self.term, "gain": self.gain, "wash_sale_disallowed": self.disallowed}


@dataclass
class TaxBook:
    """Lots, purchases and realised gains of one account (mutable bookkeeping, no I/O)."""

    wash_days: int = 30
    lot_method: str = "hifo"
    lots: dict[str, list[TaxLot]] = field(default_factory=dict)
    realized: list[Realized] = field(default_factory=list)
    purchases: list[tuple[pd.Timestamp, str, float, int]] = field(default_factory=list)
    _next_id: int = 0
    # bookkeeping that changes no answer (left out of ==): the first ``_shared`` realised
    # pieces may be shared with a copy (copied before a wash sale changes one), ``_sorted``
    # says ``realized`` is in order of sale dates (the wash-sale window is then its tail),
    # ``_sums`` holds :func:`tax_summary`'s running sums over the first pieces
    _shared: int = field(default=0, compare=False, repr=False)
    _sorted: bool = field(default=True, compare=False, repr=False)
    _sums: tuple | None = field(default=None, compare=False, repr=False)

    def __getstate__(self) -> dict:
        # a pickle (and a deep copy) holds the book, not what this object shares or memoised
        state = dict(self.__dict__)
        state.pop("_shared", None)
        state.pop("_sums", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_sorted", False)  # not known: scan every piece
        self._shared, self._sums = 0, None

    # ---------------------------------------------------------------- trades
    def buy(self, ticker: str, shares: float, price: float, date: pd.Timestamp) -> TaxLot:
        """Open a lot; a loss sale of ``ticker`` in the previous ``wash_days`` is disallowed
        up to ``shares`` and its loss moves into this lot's basis."""
        if shares <= 0 or price <= 0:
            raise DataError(
                f"buy of {ticker} needs positive shares and price, got {shares}, {price}")
        self._next_id += 1
        lot = TaxLot(ticker, float(shares), float(price), pd.Timestamp(date), self._next_id)
        uncovered = float(shares)
        realized = self.realized
        for i in range(self._window_start(lot.acquired), len(realized)):
            r = realized[i]
            if uncovered <= 1e-12:
                break
            if r.ticker != ticker or not 0 <= (lot.acquired - r.sold).days <= self.wash_days:
                continue
            loss = r.cost - r.proceeds
            open_loss = loss - r.disallowed  # part of the loss not yet disallowed
            if loss <= 1e-12 or open_loss <= 1e-12:
                continue
            per_share = loss / r.shares
            covered = min(uncovered, open_loss / per_share)
            amount = covered * per_share
            if i < self._shared:  # shared with a copy: this book's own piece from now on
                r = realized[i] = copy.copy(r)
            if self._sums is not None and i < self._sums[0]:
                self._sums = None  # a summed piece changed
            r.disallowed += amount
            lot.basis += amount / lot.shares
            uncovered -= covered
        self.lots.setdefault(ticker, []).append(lot)
        self.purchases.append((lot.acquired, ticker, float(shares), lot.lot_id))
        return lot

    def sell(self, ticker: str, shares: float, price: float, date: pd.Timestamp) -> list[Realized]:
        """Consume lots and realise gains; a loss is disallowed up to the shares of ``ticker``
        bought in the ``wash_days`` before ``date`` that this sale leaves in the book."""
        date = pd.Timestamp(date)
        held = self.shares(ticker)
        if shares > held + 1e-9:
            raise DataError(f"cannot sell {shares:g} {ticker}: the tax book holds {held:g}")
        lots = self.lots.get(ticker, [])
        left = float(shares)
        out: list[Realized] = []
        order = self._sale_order(lots)
        if self._washes(order, shares, price, date):
            # selling the recent lots first leaves no replacement inside the window
            alt = self._recent_first(order, date)
            if not self._washes(alt, shares, price, date):
                order = alt
        for lot in order:
            if left <= 1e-12:
                break
            take = min(lot.shares, left)
            out.append(Realized(ticker, take, take * price, take * lot.basis, lot.acquired, date,
                                lot_id=lot.lot_id))
            lot.shares -= take
            left -= take
        self.lots[ticker] = [lot for lot in lots if lot.shares > 1e-12]
        # buy-then-sell wash sale: shares of *other* lots bought within wash_days before the
        # sale (the unsold rest of the lot a piece comes from does not replace that piece)
        replacements = [lot for lot in self.lots[ticker]
                        if 0 <= (date - lot.acquired).days <= self.wash_days]
        room = {lot.lot_id: lot.shares for lot in replacements}
        for r in out:
            loss = r.cost - r.proceeds
            if loss <= 0:
                continue
            per_share = loss / r.shares
            need = r.shares
            for lot in replacements:
                if lot.lot_id == r.lot_id:
                    continue
                covered = min(room[lot.lot_id], need)
                if covered <= 1e-12:
                    continue
                amount = per_share * covered
                r.disallowed += amount
                lot.basis += amount / lot.shares
                room[lot.lot_id] -= covered
                need -= covered
        if self.realized and date < self.realized[-1].sold:
            self._sorted = False
        self.realized.extend(out)
        return out

    def _window_start(self, date: pd.Timestamp) -> int:
        """An index before which no realised piece was sold within ``wash_days`` before
        ``date`` (pieces in order of sale: the tail's start; else 0, all of them)."""
        realized = self.realized
        if not self._sorted:
            return 0
        i = len(realized)
        while i and (date - realized[i - 1].sold).days <= self.wash_days:
            i -= 1
        return i

    def _sale_order(self, lots: list[TaxLot]) -> list[TaxLot]:
        if self.lot_method == "hifo":
            return sorted(lots, key=lambda lot: -lot.basis)
        return sorted(lots, key=lambda lot: lot.acquired)

    # ---------------------------------------------------------------- queries
    def _recent_first(self, order: list[TaxLot], date: pd.Timestamp) -> list[TaxLot]:
        recent = [lot for lot in order if 0 <= (date - lot.acquired).days <= self.wash_days]
        return recent + [lot for lot in order if lot not in recent]

    def _washes(self, order: list[TaxLot], shares: float, price: float,
                date: pd.Timestamp) -> bool:
        left = float(shares)
        remaining = {lot.lot_id: lot.shares for lot in order}
        losers = set()
        for lot in order:
            if left <= 1e-12:
                break
            take = min(lot.shares, left)
            remaining[lot.lot_id] -= take
            left -= take
            if lot.basis > price:
                losers.add(lot.lot_id)
        return any(
            remaining[lot.lot_id] > 1e-12 and 0 <= (date - lot.acquired).days <= self.wash_days
            and (losers - {lot.lot_id})
            for lot in order)

    def sale_would_wash(self, ticker: str, shares: float, price: float,
                        date: pd.Timestamp) -> bool:
        """True when selling ``shares`` now realises a loss that a purchase of ``ticker`` in
        the last ``wash_days`` (a lot this sale does not draw from) would disallow, whichever
        of the lot orders :meth:`sell` may use (``lot_method``, or recent lots first)."""
        date = pd.Timestamp(date)
        order = self._sale_order(self.lots.get(ticker, []))
        return self._washes(order, shares, price, date) and self._washes(
            self._recent_first(order, date), shares, price, date)

    def shares(self, ticker: str) -> float:
        return float(sum(lot.shares for lot in self.lots.get(ticker, [])))

    def bought_within(self, ticker: str, date: pd.Timestamp) -> bool:
        return any(t == ticker and 0 <= (pd.Timestamp(date) - d).days <= self.wash_days
                   for d, t, _, _ in self.purchases)

    def loss_sold_within(self, ticker: str, date: pd.Timestamp) -> bool:
        """True while buying ``ticker`` on ``date`` would wash an earlier loss sale."""
        return any(r.ticker == ticker and r.proceeds < r.cost
                   and 0 <= (pd.Timestamp(date) - r.sold).days <= self.wash_days
                   for r in self.realized)

    def unrealized(self, prices: Mapping[str, float]) -> pd.DataFrame:
        rows = [
            {"ticker": t, "lot_id": lot.lot_id, "shares": lot.shares, "basis": lot.basis,
             "acquired": lot.acquired, "value": lot.shares * prices[t],
             "gain": lot.shares * (prices[t] - lot.basis)}
            for t, lots in self.lots.items() for lot in lots
        ]
        return pd.DataFrame(rows, columns=["ticker", "lot_id", "shares", "basis", "acquired",
                                           "value", "gain"])

    def loss_sold_tickers(self, date: pd.Timestamp) -> set[str]:
        """The tickers for which :meth:`loss_sold_within` is True on ``date``, in one pass."""
        date = pd.Timestamp(date)
        return {r.ticker for r in self.realized[self._window_start(date):]
                if r.proceeds < r.cost and 0 <= (date - r.sold).days <= self.wash_days}

    def copy(self) -> TaxBook:
        """An independent copy (equal to ``copy.deepcopy``'s): new lots, which sales change
        in place; the realised pieces are shared until a wash sale changes one in either
        book, which then copies it first (only :meth:`buy` changes a piece)."""
        self._shared = len(self.realized)
        return TaxBook(wash_days=self.wash_days, lot_method=self.lot_method,
                       lots={t: [copy.copy(lot) for lot in lots]
                             for t, lots in self.lots.items()},
                       realized=list(self.realized),
                       purchases=list(self.purchases), _next_id=self._next_id,
                       _shared=len(self.realized), _sorted=self._sorted, _sums=self._sums)

    def realized_between(self, start: pd.Timestamp | None, end: pd.Timestamp) -> list[Realized]:
        realized = self.realized
        if not self._sorted:
            return [r for r in realized
                    if (start is None or r.sold > start) and r.sold <= end]
        # in order of sale: the pieces sold in (start, end] are one slice
        lo = 0 if start is None else bisect.bisect_right(realized, start, key=_sold)
        return realized[lo:bisect.bisect_right(realized, end, lo=lo, key=_sold)]


def _sold(r: Realized) -> pd.Timestamp:
    return r.sold


@dataclass(frozen=True)
class Harvest:
    ticker: str
    substitute: str
    shares: float
    loss: float  # unrealised loss harvested (positive currency)
    loss_fraction: float  # of the lots' basis


def harvest_candidates(
    book: TaxBook,
    prices: Mapping[str, float],
    date: pd.Timestamp,
    substitutes: Mapping[str, str],
    *,
    threshold: float,
    min_value: float = 0.0,
) -> list[Harvest]:
    """Tickers whose losing lots lose more than ``threshold`` of their basis, with a substitute.

    Skipped: tickers bought in the last ``wash_days`` (the sale would be a wash), and
    substitutes themselves sold at a loss in the last ``wash_days`` (buying them back would
    wash that loss). Only the losing lots are sold.
    """
    out = []
    for ticker, lots in book.lots.items():
        sub = substitutes.get(ticker)
        if sub is None or sub == ticker or ticker not in prices:
            continue
        p = float(prices[ticker])
        losing = [lot for lot in lots if lot.basis > p]
        if not losing:
            continue
        shares = sum(lot.shares for lot in losing)
        basis = sum(lot.shares * lot.basis for lot in losing)
        loss = basis - shares * p
        if loss / basis < threshold or loss < min_value:
            continue
        if book.bought_within(ticker, date) or book.loss_sold_within(sub, date):
            continue
        out.append(Harvest(ticker, sub, shares, loss, loss / basis))
    return sorted(out, key=lambda h: -h.loss)


def substitute_candidates(
    returns: pd.DataFrame, given: Mapping[str, str] | None = None
) -> dict[str, list[str]]:
    """Per ticker, substitutes in order of preference: the user's map first, then the other
    tickers by decreasing correlation of daily returns over the window."""
    corr = returns.corr().to_numpy(copy=True)
    np.fill_diagonal(corr, -np.inf)
    cols = list(returns.columns)
    out = {}
    for i, t in enumerate(cols):
        ranked = [cols[j] for j in np.argsort(-corr[i]) if cols[j] != t]
        first = (given or {}).get(t)
        out[t] = ([first] if first else []) + [c for c in ranked if c != first]
    return out


def substitute_map(returns: pd.DataFrame, given: Mapping[str, str] | None = None) -> dict[str, str]:
    """The user's map, completed with each ticker's most correlated other ticker."""
    return {t: c[0] for t, c in substitute_candidates(returns, given).items() if c}


def annual_tax(
    realized: Iterable[Realized], *, short_rate: float, long_rate: float, carryforward: float = 0.0,
) -> tuple[float, float, dict]:
    """Tax on one year's realised gains; returns (tax, new carryforward loss, breakdown).

    Net short- and long-term gains separately; a net loss in one bucket offsets the other;
    ``carryforward`` (a positive loss amount from earlier years) offsets short-term first.
    Tax is never negative: remaining losses carry forward.
    """
    st = sum(r.gain for r in realized if r.term == "short")
    lt = 0.0
    for r in realized:
        if r.term == "long":
            lt += r.gain
    st -= carryforward
    if st < 0 and lt > 0:
        lt, st = max(0.0, lt + st), min(0.0, lt + st)
    elif lt < 0 and st > 0:
        st, lt = max(0.0, st + lt), min(0.0, st + lt)
    tax = short_rate * max(st, 0.0) + long_rate * max(lt, 0.0)
    carry = -(min(st, 0.0) + min(lt, 0.0)) + 0.0  # never -0.0
    return float(tax), float(carry), {"net_short_term": float(st), "net_long_term": float(lt)}


# ----------------------------------------------------------------------------- estimated tax
# Pure functions over the autopilot's state (:class:`autoport.autopilot.state.AutopilotState`):
# taxes are computed, never withdrawn from the engine's account.

def close_tax_year(state: AutopilotState, today: pd.Timestamp, rates: TaxSettings
                   ) -> tuple[AutopilotState, dict | None]:
    """On the first decision of a new year, the tax on the years since the last one (paid
    ``today``, losses carried forward): the new state and the record's ``tax_year_end``."""
    if state.tax_year is None:
        return replace(state, tax_year=today.year), None
    if today.year <= state.tax_year:
        return state, None
    start = pd.Timestamp(f"{state.tax_year}-01-01") - pd.Timedelta(days=1)
    end = pd.Timestamp(f"{today.year - 1}-12-31")
    realized = state.taxbook.realized_between(start, end)
    due, carry, parts = annual_tax(realized, short_rate=rates.short_term_rate,
                                   long_rate=rates.long_term_rate,
                                   carryforward=state.carryforward)
    entry = {"years": f"{state.tax_year}-{today.year - 1}", "tax": due,
             "carryforward_loss": carry, **parts}
    return replace(state, carryforward=carry, taxes_paid=(*state.taxes_paid, (today, due)),
                   tax_year=today.year), entry


def estimated_tax(taxbook: TaxBook, current: pd.Series, target: pd.Series, prices: pd.Series,
                  value: float, today: pd.Timestamp, rates: TaxSettings) -> float:
    """Tax the sales from ``current`` toward ``target`` would realise, as a fraction of the
    portfolio ``value``: each sale at the lots' average basis, at the short-term rate when
    any lot is short-term."""
    if value <= 0:
        return 0.0
    due = 0.0
    for t in current.index:
        sell_w = current.get(t, 0.0) - target.get(t, 0.0)
        if sell_w <= 1e-9:
            continue
        lots = taxbook.lots.get(t, [])
        held = sum(lot.shares for lot in lots)
        if not held:
            continue
        basis = sum(lot.shares * lot.basis for lot in lots) / held
        gain = sell_w * value / prices[t] * (prices[t] - basis)
        short = any((today - lot.acquired).days <= LONG_TERM_DAYS for lot in lots)
        due += max(gain, 0.0) * (rates.short_term_rate if short else rates.long_term_rate)
    return due / value


def after_tax(state: AutopilotState, rates: TaxSettings) -> dict:
    """Pre-tax and after-tax total return of the book so far, computed as the report
    computes them (:mod:`autoport.autopilot.aftertax`): a year's tax is paid at the first
    decision of the next year, this year's tax on the gains realised so far is charged on
    the latest value (owed, not yet due), each as a withdrawal ``tax / V_(t-1)``.
    """
    from autoport.autopilot import aftertax  # it builds on this module's tax book

    if not state.values:
        return {"pre_tax_return": 0.0, "after_tax_return": 0.0, "taxes_paid": 0.0,
                "tax_owed_this_year": 0.0}
    # numpy over the running values: the report's arithmetic (pct_change, cumprod, prod,
    # sum) on the same arrays, so the same numbers, without a Series per decision
    trail = state.values
    if getattr(trail, "increasing", False):
        # a ValueTrail with no session twice: its pairs are the days, its array the values
        vals, last_day, position = trail.amounts, trail[-1][0], trail.position
    else:
        by_day = dict(trail)  # one value a session, the last one given
        days = list(by_day)
        vals = np.fromiter(by_day.values(), dtype=float, count=len(days))
        last_day, position = days[-1], {d: i for i, d in enumerate(days)}.__getitem__
    taxes = np.zeros(len(vals))
    for day, amount in state.taxes_paid:
        taxes[position(day)] += amount
    owed = 0.0
    if state.tax_year is not None:
        this_year = state.taxbook.realized_between(
            pd.Timestamp(f"{state.tax_year}-01-01") - pd.Timedelta(days=1), last_day)
        owed, _, _ = annual_tax(this_year, short_rate=rates.short_term_rate,
                                long_rate=rates.long_term_rate, carryforward=state.carryforward)
        taxes[-1] += owed
    rets = np.zeros(len(vals))
    with np.errstate(divide="ignore", invalid="ignore"):
        rets[1:] = vals[1:] / vals[:-1] - 1.0
        at = aftertax.after_tax_drag(rets, taxes, float(vals[0]))
    start = float(vals[0]) / state.capital
    return {
        "pre_tax_return": float(vals[-1] / state.capital - 1.0),
        "after_tax_return": float(np.prod(1.0 + at) * start - 1.0),
        "taxes_paid": float(taxes.sum() - owed),
        "tax_owed_this_year": float(owed),
    }


def tax_summary(state: AutopilotState) -> dict:
    """Realised gains by term, taxes paid and the carryforward, for the report."""
    # one pass, each piece's term read once; the sums in the same order as before,
    # continued from the book's sums over the pieces already summed (unchanged since)
    book = state.taxbook
    done, short, long, disallowed = book._sums or (0, 0, 0, 0)
    realized = book.realized
    for i in range(done, len(realized)):
        r = realized[i]
        if r.term == "short":
            short += r.gain
        else:
            long += r.gain
        disallowed += r.disallowed
    book._sums = (len(realized), short, long, disallowed)
    return {
        "realized_short_term": short,
        "realized_long_term": long,
        "wash_sale_disallowed": disallowed,
        "taxes_paid": sum(t for _, t in state.taxes_paid),
        "carryforward_loss": state.carryforward,
    }
