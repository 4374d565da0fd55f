"""Order sizing: how an engine turns target weights into share counts, as cvxportfolio's
``MarketSimulator`` owns its trade rounding rather than the policy.

With no rules (the default) an engine trades to ``w * V / P`` shares: zipline's
``order_target_percent`` truncates the change to whole shares (:func:`whole_shares`), the fast
simulator keeps fractions unless asked for whole shares, as the backtest's ``sim`` engine does.
With rules, :func:`size` rounds to lots, skips small orders, keeps a cash buffer and trims
buys that would overdraw cash after costs; both engines then execute exactly those counts, and
a strategy may call :func:`size` on its book to name the orders its target becomes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from autoport.engines.costs import CostModel


class OrderSizing(BaseModel):
    """The engine's order rules; all off by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lot_size: int | None = Field(
        None, ge=1, description="orders are multiples of this many shares, rounded to the "
        "nearest lot; None: no rounding rule (zipline truncates to whole shares)")
    min_trade_value: float = Field(
        0.0, ge=0, description="skip orders smaller than this (currency) unless they close "
        "a position")
    cash_buffer: float = Field(0.0, ge=0, lt=0.5, description="fraction kept in cash")

    @property
    def active(self) -> bool:
        return self.lot_size is not None or self.min_trade_value > 0 or self.cash_buffer > 0


def whole_shares(delta: np.ndarray | pd.Series) -> np.ndarray | pd.Series:
    """Share changes as an engine that trades whole shares places them (zipline's order
    amounts): within 1e-4 of a whole number, that number; else truncated toward zero.

    Parameters
    ----------
    delta
        Share changes per ticker, shape (N,).
    """
    near = np.round(delta)
    return np.where(np.abs(delta - near) < 1e-4, near, np.trunc(delta)) if isinstance(
        delta, np.ndarray) else near.where((delta - near).abs() < 1e-4, np.trunc(delta))


def size(
    target: pd.Series,
    shares: pd.Series,
    prices: pd.Series,
    cash: float,
    *,
    costs: CostModel,
    sizing: OrderSizing,
) -> tuple[pd.Series, list[str]]:
    """Share counts after trading ``shares`` toward ``target`` weights at ``prices``.

    Returns the post-trade shares per ticker of ``prices`` and notes on anything skipped or
    trimmed. ``target`` may sum below 1 (the rest is cash); with a ``cash_buffer`` it is scaled
    so that at least that share stays in cash. Buys are trimmed so that cash after ``costs``
    (at the decision price) stays at or above 0.

    Parameters
    ----------
    target
        Target weights per ticker (fractions of the book's value, summing to at most 1).
    shares
        Shares held per ticker before the trade.
    prices
        Decision prices per ticker, shape (N,); their index sets the tickers returned.
    cash
        Cash before the trade (currency).
    costs
        Commission and slippage charged on each traded dollar.
    sizing
        Lot size, minimum trade value and cash buffer.
    """
    tickers = prices.index
    shares = shares.reindex(tickers, fill_value=0.0).astype(float)
    target = target.reindex(tickers, fill_value=0.0).clip(lower=0.0)
    value = cash + float((shares * prices).sum())
    notes: list[str] = []
    lot = sizing.lot_size
    invest = float(target.sum())
    if sizing.cash_buffer > 0 and invest > 1.0 - sizing.cash_buffer + 1e-12:
        # without a buffer a target over 1 is not scaled: holding a book whose fills left
        # cash below 0 trades nothing, and the trim below keeps new buys within cash
        target = target * (1.0 - sizing.cash_buffer) / invest
    wanted = target * value / prices
    if lot is not None:
        wanted = np.floor(wanted / lot + 0.5) * lot
    if not sizing.active:
        return wanted, notes
    delta = wanted - shares
    for t in tickers:
        d = delta[t]
        if d == 0:
            continue
        closing = wanted[t] == 0 and shares[t] > 0
        if abs(d) * prices[t] < sizing.min_trade_value and not closing:
            notes.append(f"{t}: order of {abs(d):.0f} shares "
                         f"({abs(d) * prices[t]:,.0f}) below the minimum trade "
                         f"{sizing.min_trade_value:,.0f}, skipped")
            delta[t] = 0.0
    # never overdraw: trim buys (largest first) until cash after costs stays >= 0
    rate = costs.total_rate
    spend = float((delta * prices).sum() + (delta.abs() * prices).sum() * rate)
    if spend > cash + 1e-6:
        excess = spend - cash
        for t in delta[delta > 0].sort_values(ascending=False).index:
            cut = excess / (prices[t] * (1 + rate))
            if lot is not None:
                cut = np.ceil(cut / lot) * lot
            cut = min(delta[t], cut)
            delta[t] -= cut
            excess -= cut * prices[t] * (1 + rate)
            notes.append(f"{t}: buy trimmed by {cut:.0f} shares so cash stays positive "
                         "after costs")
            if excess <= 0:
                break
    return shares + delta, notes
