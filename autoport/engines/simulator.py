"""The fast engine: zipline's bookkeeping in share space, vectorised between decisions.

Shared by the Gymnasium env (``autoport.envs``), :func:`autoport.decision.decide_schedule` and
fast sweeps; :func:`run` drives a strategy, handing it the book at each decision. It follows
:mod:`autoport.engines.zipline_engine` exactly, apart from integer shares:

- a decision on session ``t`` sees closes up to ``t``; ``order_target_percent`` turns target
  weights into target shares at the close of ``t`` (``w_i * V_t / P_t,i``);
- the order fills at the close of ``t+1``: the return of ``t+1`` is still earned by the old
  holdings, and the trade's costs land on ``t+1``;
- costs follow zipline's models: fill price ``P (1 ± slippage)`` (buy +, sell -) and a
  commission of ``commission`` times the filled value; unspent money is cash at 0%.

Everything is per unit of starting capital; values and returns are plain numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoport.decision import Book, Decision, Fill, Strategy, decide_investable
from autoport.engines import orders
from autoport.engines.costs import CostModel
from autoport.errors import DataError

REBALANCE_RULES = ("month_start", "week_start", "every_day")


@dataclass
class Account:
    """Holdings in shares plus cash (per unit of starting capital unless told otherwise);
    the engine's mutable state, shown to a strategy as a frozen :class:`Book`."""

    shares: np.ndarray  # (n_assets,)
    cash: float = 1.0

    @classmethod
    def all_cash(cls, n_assets: int, cash: float = 1.0) -> Account:
        return cls(np.zeros(n_assets), cash)

    def value(self, prices: np.ndarray) -> float:
        return float(self.cash + self.shares @ prices)

    def weights(self, prices: np.ndarray) -> np.ndarray:
        """Value weights of the assets (cash is the rest); zeros for an empty book."""
        held = self.shares * prices
        total = self.cash + held.sum()
        return held / total if total > 0 else np.zeros_like(held)


def target_shares(book: Account, weights: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Shares ``order_target_percent`` aims for, priced at the decision close."""
    return np.asarray(weights, dtype=float) * book.value(prices) / prices


def fill(book: Account, target: np.ndarray, prices: np.ndarray, costs: CostModel) -> float:
    """Trade ``book`` to ``target`` shares at ``prices`` (the fill close); return the cost paid.

    The cost is measured against trading at the close itself: slippage plus commission.
    """
    delta = target - book.shares
    slip = costs.slippage_bps / 1e4
    fill_price = prices * (1.0 + slip * np.sign(delta))
    traded = np.abs(delta) * fill_price
    commission = costs.commission_bps / 1e4 * traded.sum()
    book.cash -= float(delta @ fill_price) + commission
    book.shares = np.asarray(target, dtype=float).copy()
    return float(np.abs(delta) @ prices * slip + commission)


def hold_values(book: Account, prices: np.ndarray) -> np.ndarray:
    """Closing values of an unchanged book over rows of ``prices`` (n_days, n_assets)."""
    return book.cash + prices @ book.shares


@dataclass(frozen=True)
class SimulationResult:
    values: np.ndarray  # closing value per session, per unit of starting capital
    returns: np.ndarray  # daily returns; returns[0] is 0 (the first session only decides)
    costs: np.ndarray  # cost paid per session, in units of starting capital
    weights: np.ndarray  # (n_days, n_assets) closing value weights


def simulate(
    prices: np.ndarray,
    decisions: dict[int, np.ndarray],
    costs: CostModel | None = None,
) -> SimulationResult:
    """Run a book from all cash over ``prices`` (n_days, n_assets).

    ``decisions`` maps a row index ``t`` to target weights decided at the close of ``t``;
    they fill at row ``t+1`` (a decision on the last row never fills, as in zipline).
    """
    prices = np.asarray(prices, dtype=float)
    if prices.ndim != 2 or len(prices) < 2:
        raise DataError("simulate needs a (sessions, assets) price array with 2+ sessions")
    if not np.isfinite(prices).all() or (prices <= 0).any():
        raise DataError("simulate needs finite, strictly positive prices")
    costs = costs or CostModel(commission_bps=0.0, slippage_bps=0.0)
    n_days, n_assets = prices.shape
    book = Account.all_cash(n_assets)
    values = np.empty(n_days)
    paid = np.zeros(n_days)
    weights = np.zeros((n_days, n_assets))
    pending: np.ndarray | None = None
    for t in range(n_days):
        if pending is not None:
            paid[t] = fill(book, pending, prices[t], costs)
            pending = None
        values[t] = book.value(prices[t])
        weights[t] = book.weights(prices[t])
        if t in decisions:
            w = np.asarray(decisions[t], dtype=float)
            if w.shape != (n_assets,):
                raise DataError(f"decision at row {t} has {w.shape} weights for {n_assets} assets")
            pending = target_shares(book, w, prices[t])
    returns = np.concatenate([[0.0], values[1:] / values[:-1] - 1.0])
    return SimulationResult(values, returns, paid, weights)


def schedule(index: pd.DatetimeIndex, start: pd.Timestamp, end: pd.Timestamp,
             rule: str) -> pd.DatetimeIndex:
    """The decision sessions of ``rule`` within ``start..end``, as zipline's date rules pick
    them: the first session of each month (week) of the calendar ``index``, so a window
    starting mid-month first decides at the next month's start."""
    if rule not in REBALANCE_RULES:
        raise DataError(f"unknown rebalance rule {rule!r}; use one of {REBALANCE_RULES}")
    if rule == "every_day":
        chosen = index
    else:
        period = index.to_period("M" if rule == "month_start" else "W")
        first = np.r_[True, period[1:] != period[:-1]]
        chosen = index[first]
    return chosen[(chosen >= start) & (chosen <= end)]


@dataclass(frozen=True)
class StrategyRun:
    """A strategy driven through the fast engine, in the engine's currency."""

    returns: pd.Series  # daily; 0 on the first session (it only decides)
    values: pd.Series  # closing value per session
    costs: pd.Series  # slippage + commission paid per session
    positions: pd.DataFrame  # value per ticker plus 'cash' at each close
    fills: list[Fill]
    decisions: list[Decision]


def run(
    strategy: Strategy,
    prices: pd.DataFrame,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    dates: pd.DatetimeIndex | None = None,
    rebalance: str = "month_start",
    costs: CostModel | None = None,
    capital: float = 1.0,
    sizing: orders.OrderSizing | None = None,
    whole_shares: bool = False,
) -> StrategyRun:
    """Drive ``strategy`` over ``start..end`` of ``prices``: at each decision session it gets
    the closes up to that session and the :class:`Book`; its target fills at the next close.

    Decision sessions are ``dates`` when given, else those of ``rebalance``; a session with
    under ``strategy.min_history`` rows of history is skipped, as in the zipline engine.
    Without sizing rules the targets are fractional shares ``w * V / P``; ``whole_shares``
    places every change in whole shares as zipline does (:func:`orders.whole_shares`).

    Parameters
    ----------
    strategy
        The strategy to drive.
    prices
        Adjusted closes, shape (T, N): sessions by tickers.
    start, end
        First and last session traded; None: the panel's.
    dates
        Decision sessions; None: those of ``rebalance``.
    rebalance
        Decision schedule when ``dates`` is None: ``month_start``, ``week_start`` or
        ``every_day``.
    costs
        Commission and slippage per traded dollar; None: no costs.
    capital
        Starting cash (currency).
    sizing
        Lot size, minimum trade and cash buffer; None: fractional shares, no minimum.
    whole_shares
        Place every change in whole shares, as zipline does.
    """
    costs = costs or CostModel(commission_bps=0.0, slippage_bps=0.0)
    sizing = sizing or orders.OrderSizing()
    start = prices.index[0] if start is None and dates is None else (
        start if start is not None else dates[0])
    end = prices.index[-1] if end is None else end
    sessions = prices.loc[start:end].index
    if dates is None:
        dates = schedule(prices.index, start, end, rebalance)
    # a ragged panel: a delisted asset keeps its last price (it is sold there), one not yet
    # listed its first (never held: decide_investable gives it weight 0); one without any
    # price in ``prices`` (a walk-forward block before its listing) a placeholder 1, never held
    complete = not np.isnan(prices.to_numpy(dtype=float)).any()  # no decision scans history
    if complete:
        segment = prices.loc[sessions]
    else:
        segment = prices.ffill().bfill().loc[sessions]
        unpriced = prices.columns[prices.isna().all().to_numpy()]
        if len(unpriced):
            segment[unpriced] = 1.0
    # row-major, so each session's dot products run alike whatever layout ``prices`` has
    px = np.ascontiguousarray(segment.to_numpy(dtype=float))
    if not np.isfinite(px).all() or (px <= 0).any():
        raise DataError("the simulator needs finite, strictly positive prices in its window")
    tickers = prices.columns
    names = list(tickers)  # a fill's ticker without an Index lookup each
    first_row = prices.index.get_loc(sessions[0])
    n_days, n_assets = px.shape
    # decision rows: scheduled and with min_history rows of history behind them
    decide_on = sessions.isin(pd.DatetimeIndex(dates)) & (
        first_row + np.arange(n_days) + 1 >= strategy.min_history)
    account = Account.all_cash(n_assets, float(capital))
    values = np.empty(n_days)
    paid = np.zeros(n_days)
    held = np.zeros((n_days, n_assets))
    cash = np.empty(n_days)
    fills: list[Fill] = []
    since_last: list[Fill] = []
    decisions: list[Decision] = []
    pending: np.ndarray | None = None
    slip, comm = costs.slippage_bps / 1e4, costs.commission_bps / 1e4
    # the book changes only on a fill, the session after a decision: between two fills each
    # stretch of closes is valued in one product, and Python runs once per decision
    rows = np.flatnonzero(decide_on)
    t, k = 0, 0
    while t < n_days:
        if pending is not None:
            day = sessions[t]
            delta = pending - account.shares
            traded = np.flatnonzero(delta)
            amount = delta[traded]
            price = px[t, traded] * (1.0 + slip * np.sign(amount))
            done = [Fill(day, names[i], a, p, c) for i, a, p, c in zip(
                traded.tolist(), amount.tolist(), price.tolist(),
                (comm * np.abs(amount) * price).tolist())]
            fills.extend(done)
            since_last.extend(done)
            paid[t] = fill(account, pending, px[t], costs)
            pending = None
        while k < len(rows) and rows[k] < t:
            k += 1
        d = int(rows[k]) if k < len(rows) else None  # the next decision row, t or later
        stop = n_days if d is None else d + 1
        values[t:stop] = account.cash + px[t:stop] @ account.shares
        held[t:stop] = account.shares
        cash[t:stop] = account.cash
        t = stop
        if d is None:
            break
        day = sessions[d]
        marks = pd.Series(px[d].copy(), index=tickers, name=day)
        book = Book(day, account.cash, pd.Series(account.shares.copy(), index=tickers),
                    marks, tuple(since_last), costs, sizing, whole_shares)
        since_last = []
        decision = decide_investable(strategy, prices.iloc[: first_row + d + 1], book,
                                     complete=complete)
        decisions.append(decision)
        w = decision.weights
        if not w.index.equals(tickers):
            w = w.reindex(tickers, fill_value=0.0)
        if sizing.active:
            target, _ = orders.size(w, book.shares, marks, account.cash, costs=costs,
                                    sizing=sizing)
            pending = target.to_numpy(dtype=float)
        else:
            pending = target_shares(account, w.to_numpy(dtype=float), px[d])
        if whole_shares:
            pending = account.shares + orders.whole_shares(pending - account.shares)
    returns = np.concatenate([[0.0], values[1:] / values[:-1] - 1.0])
    positions = pd.DataFrame(held * px, index=sessions, columns=tickers)
    positions["cash"] = cash
    return StrategyRun(pd.Series(returns, index=sessions, name="strategy"),
                       pd.Series(values, index=sessions), pd.Series(paid, index=sessions),
                       positions, fills, decisions)


def transactions_frame(fills: list[Fill]) -> pd.DataFrame:
    """Fills in the shape of the zipline engine's transactions (date index; symbol, amount,
    price), for pyfolio's turnover and the after-tax replay."""
    if not fills:
        return pd.DataFrame(columns=["symbol", "amount", "price"], index=pd.DatetimeIndex([]))
    frame = pd.DataFrame({"date": [f.date for f in fills], "symbol": [f.ticker for f in fills],
                          "amount": [f.shares for f in fills], "price": [f.price for f in fills]})
    return frame.set_index("date")
