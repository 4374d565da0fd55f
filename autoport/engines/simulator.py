"""The fast engine: zipline's bookkeeping in share space, vectorised between decisions.

Shared by the Gymnasium env (``autoport.envs``), the DQN strategy and fast sweeps. It follows
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

from autoport.engines.costs import CostModel
from autoport.errors import DataError


@dataclass
class Book:
    """Holdings in shares per unit of starting capital, plus cash; mutable engine state."""

    shares: np.ndarray  # (n_assets,)
    cash: float = 1.0

    @classmethod
    def all_cash(cls, n_assets: int, cash: float = 1.0) -> Book:
        return cls(np.zeros(n_assets), cash)

    def value(self, prices: np.ndarray) -> float:
        return float(self.cash + self.shares @ prices)

    def weights(self, prices: np.ndarray) -> np.ndarray:
        """Value weights of the assets (cash is the rest); zeros for an empty book."""
        held = self.shares * prices
        total = self.cash + held.sum()
        return held / total if total > 0 else np.zeros_like(held)


def target_shares(book: Book, weights: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Shares ``order_target_percent`` aims for, priced at the decision close."""
    return np.asarray(weights, dtype=float) * book.value(prices) / prices


def fill(book: Book, target: np.ndarray, prices: np.ndarray, costs: CostModel) -> float:
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


def hold_values(book: Book, prices: np.ndarray) -> np.ndarray:
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
    book = Book.all_cash(n_assets)
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
