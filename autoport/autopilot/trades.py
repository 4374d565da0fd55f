"""From target weights to share orders, and the shadow book that follows the engine's fills.

The autopilot decides in *shares*: target weights become whole-lot share orders (orders below
``min_trade_value`` are skipped unless they close a position; a ``cash_buffer`` stays
uninvested; buys are trimmed when they would overdraw cash after estimated costs). The
weights it hands the engine are then the post-trade holdings at the decision prices, so the
reference engine (zipline's ``order_target_percent``: shares = weight × value / price,
truncated) executes exactly these orders, and each executed trade is one the explanation
names.

The :class:`ShadowBook` fills orders as zipline does: at the close of the session after the
decision, the price moved by ``slippage_bps`` against the trade, plus ``commission_bps`` of
the traded value; prices are read at the engine's precision (0.001 by default). From those
fills it reports the *implementation shortfall* against the decision price: what the
trade list cost relative to trading instantly at the close the decision saw.

Dividends: prices are adjusted (total-return) closes, so dividends are reinvested in the price
itself; there is no separate cash dividend to reinvest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from autoport.engines.costs import CostModel


def engine_prices(prices: pd.Series, tick: float | None) -> pd.Series:
    """Closes as the engine stores them (zipline: ``round(round(p, 6) * 1000) * 0.001``)."""
    if tick is None:
        return prices.astype(float)
    scale = round(1.0 / tick)
    return pd.Series(np.round(np.round(prices.to_numpy(float), 6) * scale) * tick,
                     index=prices.index)


@dataclass(frozen=True)
class Order:
    ticker: str
    shares: int  # signed: + buy, - sell
    price: float  # decision price (the close the decision saw)
    value: float  # signed currency at the decision price
    weight_before: float
    weight_after: float
    est_cost: float  # commission + slippage estimate (currency)

    @property
    def side(self) -> str:
        return "buy" if self.shares > 0 else "sell"

    def as_dict(self) -> dict:
        return {"ticker": self.ticker, "side": self.side, "shares": int(self.shares),
                "price": self.price, "value": self.value, "weight_before": self.weight_before,
                "weight_after": self.weight_after, "estimated_cost": self.est_cost}


def plan_orders(
    target: pd.Series,
    shares: pd.Series,
    prices: pd.Series,
    cash: float,
    *,
    costs: CostModel,
    min_trade_value: float = 0.0,
    lot_size: int = 1,
    cash_buffer: float = 0.0,
) -> tuple[list[Order], pd.Series, list[str]]:
    """Share orders moving ``shares`` toward ``target`` weights at ``prices``.

    Returns the orders, the post-trade share counts, and notes on anything skipped or
    trimmed. ``target`` may sum below 1 (the rest is cash); it is scaled so that at least
    ``cash_buffer`` stays in cash.
    """
    tickers = prices.index
    shares = shares.reindex(tickers, fill_value=0).astype(float)
    target = target.reindex(tickers, fill_value=0.0).clip(lower=0.0)
    value = cash + float((shares * prices).sum())
    notes: list[str] = []
    invest = float(target.sum())
    if invest > 1.0 - cash_buffer + 1e-12:
        target = target * (1.0 - cash_buffer) / invest
    wanted = np.floor(target * value / prices / lot_size + 0.5) * lot_size
    delta = wanted - shares
    for t in tickers:
        d = delta[t]
        if d == 0:
            continue
        closing = wanted[t] == 0 and shares[t] > 0
        if abs(d) * prices[t] < min_trade_value and not closing:
            notes.append(f"{t}: order of {abs(d):.0f} shares "
                         f"({abs(d) * prices[t]:,.0f}) below the minimum trade "
                         f"{min_trade_value:,.0f}, skipped")
            delta[t] = 0.0
    # never overdraw: trim buys (largest first) until cash after costs stays >= 0
    rate = costs.total_rate
    spend = float((delta * prices).sum() + (delta.abs() * prices).sum() * rate)
    if spend > cash + 1e-6:
        excess = spend - cash
        for t in delta[delta > 0].sort_values(ascending=False).index:
            cut = min(delta[t], np.ceil(excess / (prices[t] * (1 + rate)) / lot_size) * lot_size)
            delta[t] -= cut
            excess -= cut * prices[t] * (1 + rate)
            notes.append(f"{t}: buy trimmed by {cut:.0f} shares so cash stays positive "
                         "after costs")
            if excess <= 0:
                break
    new_shares = shares + delta
    orders = [
        Order(t, int(delta[t]), float(prices[t]), float(delta[t] * prices[t]),
              float(shares[t] * prices[t] / value), float(new_shares[t] * prices[t] / value),
              float(abs(delta[t]) * prices[t] * rate))
        for t in tickers if delta[t] != 0
    ]
    return orders, new_shares, notes


def engine_weights(shares: pd.Series, prices: pd.Series, value: float) -> pd.Series:
    """The weights that make ``order_target_percent`` hold exactly ``shares``."""
    return (shares.reindex(prices.index, fill_value=0.0) * prices / value).astype(float)


@dataclass(frozen=True)
class Fill:
    ticker: str
    shares: int
    decision_price: float
    fill_price: float
    commission: float

    @property
    def shortfall(self) -> float:
        """Implementation shortfall (currency, positive = cost): price move plus commission."""
        return (self.fill_price - self.decision_price) * self.shares + self.commission


@dataclass
class ShadowBook:
    """Cash and shares as the engine holds them; orders wait for the next session's close."""

    cash: float
    costs: CostModel
    shares: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    pending: tuple[pd.Timestamp, list[Order]] | None = None

    def value(self, prices: pd.Series) -> float:
        held = self.shares.reindex(prices.index, fill_value=0.0)
        return float(self.cash + (held * prices).sum())

    def weights(self, prices: pd.Series) -> pd.Series:
        held = self.shares.reindex(prices.index, fill_value=0.0)
        return held * prices / self.value(prices)

    def submit(self, date: pd.Timestamp, orders: list[Order]) -> None:
        self.pending = (date, list(orders)) if orders else None

    def settle(self, closes: pd.DataFrame) -> tuple[pd.Timestamp | None, list[Fill]]:
        """Fill pending orders at the close of the first session after their decision date
        (``closes`` at engine precision); returns that session and the fills."""
        if self.pending is None:
            return None, []
        date, orders = self.pending
        later = closes.index[closes.index > date]
        if len(later) == 0:
            return None, []
        day = later[0]
        slip = self.costs.slippage_bps / 1e4
        comm = self.costs.commission_bps / 1e4
        fills = []
        for o in orders:
            close = float(closes.at[day, o.ticker])
            direction = 1.0 if o.shares > 0 else -1.0
            price = close + close * (slip * direction)
            commission = abs(o.shares) * (price * comm)
            self.cash += -(price * o.shares)
            self.cash += -commission
            self.shares.loc[o.ticker] = self.shares.get(o.ticker, 0.0) + o.shares
            fills.append(Fill(o.ticker, o.shares, o.price, price, commission))
        self.shares = self.shares[self.shares != 0]
        self.pending = None
        return day, fills


def shortfall_summary(fills: list[Fill]) -> dict:
    traded = sum(abs(f.shares) * f.decision_price for f in fills)
    total = sum(f.shortfall for f in fills)
    return {
        "traded_value": traded,
        "implementation_shortfall": total,
        "implementation_shortfall_bps": 1e4 * total / traded if traded else 0.0,
        "commission": sum(f.commission for f in fills),
    }
