"""The autopilot's share orders as its record names them, and what their fills cost.

The engine sizes the orders (:func:`autoport.engines.orders.size`: lots, minimum trade value,
cash buffer, no overdraft) and fills them at the close of the session after the decision; the
autopilot computes the same sizing on the book it is handed, so each order in its record is
one the engine executes. From the fills it reports the *implementation shortfall* against the
decision price: what the trade list cost relative to trading instantly at the close the
decision saw.

Dividends: prices are adjusted (total-return) closes, so dividends are reinvested in the price
itself; there is no separate cash dividend to reinvest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoport.engines import orders
from autoport.engines.costs import CostModel


def whole(shares: float) -> float | int:
    """A share count as an int when it is whole (the record prints ``10``, not ``10.0``)."""
    return int(shares) if float(shares).is_integer() else float(shares)


@dataclass(frozen=True)
class Order:
    ticker: str
    shares: float | int  # signed: + buy, - sell; an int when whole
    price: float  # decision price (the close the decision saw)
    value: float  # signed currency at the decision price
    weight_before: float
    weight_after: float
    est_cost: float  # commission + slippage estimate (currency)

    @property
    def side(self) -> str:
        return "buy" if self.shares > 0 else "sell"

    def as_dict(self) -> dict:
        return {"ticker": self.ticker, "side": self.side, "shares": whole(self.shares),
                "price": self.price, "value": self.value, "weight_before": self.weight_before,
                "weight_after": self.weight_after, "estimated_cost": self.est_cost}


def orders_between(before: pd.Series, after: pd.Series, prices: pd.Series, value: float,
                   costs: CostModel, *, whole_shares: bool = False) -> list[Order]:
    """The orders that move ``before`` shares to ``after`` at the decision ``prices``; with
    ``whole_shares`` (the engine's book says so) placed as such an engine places them
    (:func:`autoport.engines.orders.whole_shares`: a change under one share is no order)."""
    tickers = prices.index
    # the same arithmetic on the arrays (one value read per ticker, not a Series lookup each)
    b, a = _on(before, tickers), _on(after, tickers)
    d = a - b
    rate = costs.total_rate
    if whole_shares:
        d = orders.whole_shares(d)
    a = b + d
    p = prices.to_numpy(dtype=float)
    return [
        Order(t, whole(d[i]), float(p[i]), float(d[i] * p[i]), float(b[i] * p[i] / value),
              float(a[i] * p[i] / value), float(abs(d[i]) * p[i] * rate))
        for i, t in enumerate(tickers) if d[i] != 0
    ]


def holding_weights(shares: pd.Series, prices: pd.Series, value: float) -> pd.Series:
    """Value weights of ``shares`` at ``prices`` in a book worth ``value``."""
    if not prices.index.equals(shares.index) or prices.dtype != float or not isinstance(
            value, float):
        return (shares.reindex(prices.index, fill_value=0.0) * prices / value).astype(float)
    # the same products on the arrays, named as pandas names them (a shared name, else None)
    with np.errstate(all="ignore"):  # as pandas' operators
        w = shares.to_numpy(dtype=float) * prices.to_numpy() / value
    return pd.Series(w, index=prices.index,
                     name=shares.name if shares.name == prices.name else None)


def _on(x: pd.Series, tickers: pd.Index) -> np.ndarray:
    """``x.reindex(tickers, fill_value=0.0).astype(float)``'s numbers."""
    if x.index.equals(tickers):
        return x.to_numpy(dtype=float)
    return x.reindex(tickers, fill_value=0.0).to_numpy(dtype=float)


@dataclass(frozen=True)
class Fill:
    ticker: str
    shares: float
    decision_price: float
    fill_price: float
    commission: float

    @property
    def shortfall(self) -> float:
        """Implementation shortfall (currency, positive = cost): price move plus commission."""
        return (self.fill_price - self.decision_price) * self.shares + self.commission


def shortfall_summary(fills: list[Fill]) -> dict:
    traded = sum(abs(f.shares) * f.decision_price for f in fills)
    total = sum(f.shortfall for f in fills)
    return {
        "traded_value": traded,
        "implementation_shortfall": total,
        "implementation_shortfall_bps": 1e4 * total / traded if traded else 0.0,
        "commission": sum(f.commission for f in fills),
    }
