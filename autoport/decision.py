"""The strategy contract: what an engine hands a strategy and what the strategy returns.

It lives in the core because the engines (zipline, the simulator) drive strategies through
it; the strategies themselves live above the core (``autoport.strategies``) and the core never
imports them: whoever runs a backtest hands the strategy in.

A decision is ``decide(history, book)``: the closes up to the decision session and the
:class:`Book` the engine keeps (the shape of cvxportfolio's ``values_in_time(t,
current_weights, current_portfolio_value, past_returns, ...)``). The engine owns the book, its
fills, costs and order sizing; a strategy reads them and never rebuilds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import pandas as pd

from autoport.engines.costs import CostModel
from autoport.engines.orders import OrderSizing
from autoport.errors import OptimizationError


@dataclass(frozen=True)
class Fill:
    """One executed trade: signed whole or fractional ``shares`` at the engine's fill price
    (the close of the fill session moved by slippage), and its commission (currency)."""

    date: pd.Timestamp
    ticker: str
    shares: float  # + bought, - sold
    price: float
    commission: float


@dataclass(frozen=True)
class Book:
    """The engine's account at the decision close, in the engine's currency.

    ``prices`` are the engine's own marks (zipline stores closes at 0.001) and ``value`` is
    ``cash + shares @ prices`` at them; ``fills`` are the trades executed since the previous
    call;
    ``costs`` and ``sizing`` are the rules the engine will apply to the weights returned, and
    ``whole_shares`` says whether it places orders in whole shares (zipline) or fractions, so
    a strategy can name the orders its target becomes (:func:`autoport.engines.orders.size`).
    """

    date: pd.Timestamp
    cash: float
    shares: pd.Series  # per ticker, 0.0 where nothing is held
    prices: pd.Series  # per ticker, the engine's marks at the decision close
    fills: tuple[Fill, ...] = ()
    costs: CostModel = field(default_factory=CostModel)
    sizing: OrderSizing = field(default_factory=OrderSizing)
    whole_shares: bool = False

    @property
    def value(self) -> float:
        """Cash plus the holdings at ``prices`` (currency)."""
        return float(self.cash + (self.shares * self.prices).sum())

    @property
    def weights(self) -> pd.Series:
        """Value weights of the assets (cash is the rest); zeros for an empty account."""
        held = self.shares * self.prices
        total = self.cash + held.sum()
        return held / total if total > 0 else held * 0.0

    @classmethod
    def all_cash(cls, prices: pd.Series, cash: float = 1.0, **rules) -> Book:
        """A fresh account: for calling a strategy outside an engine (a served model, a
        notebook); ``rules`` are ``costs``, ``sizing`` and ``whole_shares``.

        Parameters
        ----------
        prices
            Marks per ticker at the decision close, shape (N,); its ``name``, if a date, dates
            the book.
        cash
            Cash in the account (currency).
        **rules
            ``costs``, ``sizing`` and ``whole_shares``, as the engine would apply them.
        """
        prices = prices.astype(float)
        return cls(prices.name if isinstance(prices.name, pd.Timestamp) else pd.NaT, float(cash),
                   pd.Series(0.0, index=prices.index), prices, (), **rules)


@dataclass(frozen=True)
class Decision:
    """Target weights (ticker → weight, long-only, summing to at most 1; the rest is held as
    cash) and why they were chosen."""

    date: pd.Timestamp
    weights: pd.Series
    reason: str
    details: dict = field(default_factory=dict)


class Strategy(Protocol):
    """``decide`` sees closes up to and including ``history.index[-1]`` and nothing later,
    and the engine's book at that close (``None``: a fresh all-cash account)."""

    name: str
    min_history: int

    def decide(self, history: pd.DataFrame, book: Book | None = None) -> Decision:
        """The target weights at ``history``'s last close.

        Parameters
        ----------
        history
            Adjusted closes up to the decision, shape (T, N): sessions by tickers.
        book
            The engine's account at that close; None: a fresh all-cash account.
        """


def check_weights(weights: pd.Series, tol: float = 1e-6) -> pd.Series:
    """Clip solver dust, renormalise, and refuse anything that is not a long-only budget.

    Parameters
    ----------
    weights
        Target weights per ticker, shape (N,): long-only, summing to 1 (fractions of the value).
    tol
        Negative weights down to ``-tol`` count as solver dust and are clipped to 0.
    """
    # numpy, not pandas: this runs at every decision of both engines
    v = weights.to_numpy(dtype=float)
    w = np.where(np.abs(v) > 1e-10, v, 0.0)
    if not np.isfinite(w).all():
        raise OptimizationError("strategy produced non-finite weights")
    total = w.sum()
    if (w < -tol).any() or abs(total - 1.0) > 1e-4:
        raise OptimizationError(
            f"strategy weights must be long-only and sum to 1; got sum {total:.6f}, "
            f"min {w.min():.6f}"
        )
    w = np.clip(w, 0.0, None)
    return pd.Series(w / w.sum(), index=weights.index, name=weights.name)


def decide_schedule(
    strategy: Strategy, prices: pd.DataFrame, dates: pd.DatetimeIndex
) -> pd.DataFrame:
    """Run ``strategy`` at each date on the history up to that date; one row of weights each.

    The fast simulator drives it (no costs, fractional shares), so a strategy that reads its
    book is handed the book its own past decisions made; handing over ``prices.loc[:date]`` is
    what makes a decision unable to use later data.

    Parameters
    ----------
    strategy
        The strategy to run.
    prices
        Adjusted closes, shape (T, N): sessions by tickers.
    dates
        Decision dates; those with fewer than ``strategy.min_history`` rows before are skipped.
    """
    from autoport.engines import simulator

    dates = pd.DatetimeIndex([d for d in dates if len(prices.loc[:d]) >= strategy.min_history])
    if len(dates) == 0:
        return pd.DataFrame(columns=prices.columns, dtype=float)
    run = simulator.run(strategy, prices, dates=dates, end=prices.index[-1])
    rows = {d.date: d.weights for d in run.decisions}
    return pd.DataFrame.from_dict(rows, orient="index", columns=prices.columns)


def decide_investable(strategy: Strategy, history: pd.DataFrame, book: Book | None = None,
                      *, complete: bool = False) -> Decision:
    """``strategy.decide`` on the assets that may be held at ``history``'s last row.

    On a ragged panel (late listings, delistings) an asset enters once it has
    ``strategy.min_history`` rows of prices and leaves after its last price; the strategy
    sees only those columns (no NaN), and every other asset gets weight 0 (a delisted holding
    is sold at its last price). A complete panel goes to the strategy unchanged; an engine that
    checked its whole panel once says so by ``complete`` (no scan of the history per decision).

    A strategy with ``reads_ragged_history = True`` (one whose signal reads the whole market,
    as the regime detector's index does) is handed the whole ragged history and the book and
    picks its investable assets itself; weight on an asset without a price on the decision
    date is refused.

    Parameters
    ----------
    strategy
        The strategy to run.
    history
        Adjusted closes up to the decision, shape (T, N); NaN where an asset is not listed.
    book
        The engine's account at the decision close; None: a fresh all-cash account.
    complete
        True when the engine checked its whole panel has no empty cell (skips the scan).
    """
    if complete or not history.isna().to_numpy().any():
        return strategy.decide(history, book)
    if getattr(strategy, "reads_ragged_history", False):
        decision = strategy.decide(history, book)
        weights = decision.weights.reindex(history.columns, fill_value=0.0)
        unpriced = history.columns[history.iloc[-1].isna().to_numpy()
                                   & (np.abs(weights.to_numpy(dtype=float)) > 1e-12)]
        if len(unpriced):
            raise OptimizationError(
                f"strategy {strategy.name} gave weight to {', '.join(map(str, unpriced))}, "
                f"which has no price on {history.index[-1].date()}")
        return replace(decision, weights=weights)
    from autoport.data import investable

    cols = investable(history, strategy.min_history)
    if not cols:
        raise OptimizationError(
            f"no asset has {strategy.min_history} sessions of prices up to "
            f"{history.index[-1].date()}; start later (--start)")
    sub = history[cols]  # taken once: a list of columns copies the frame
    sub = sub.iloc[-sub.notna().all(axis=1)[::-1].cumprod().sum():]
    if book is not None:
        book = replace(book, shares=book.shares.reindex(cols, fill_value=0.0),
                       prices=book.prices.reindex(cols))
    decision = strategy.decide(sub, book)
    weights = decision.weights.reindex(history.columns, fill_value=0.0)
    return replace(decision, weights=weights)
