"""The tax-aware edits of one decision's allocation: harvest swaps and the wash-sale guards.

:mod:`autoport.autopilot.tax` says *which* lots to harvest and *whether* a sale would wash;
this module turns those answers into weights. The autopilot starts from its base allocation
(the new target when it trades, the current weights otherwise) and applies, in order:
:func:`substitute_picks` (where each harvested position would go), :func:`swap_harvests`
(move the harvested weight into its substitute), :func:`keep_blocked_out` (no buy-back of a
ticker sold at a loss in the wash window) and :func:`defer_wash_sales` (no loss sale of a
ticker bought in the wash window). Weights are fractions of the portfolio's value. Pure: the
inputs are never modified, each edit returns a new series, and notes say what was changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import pandas as pd

from autoport.autopilot.tax import Harvest, TaxBook

TOL = 1e-9


def substitute_picks(
    substitutes: Mapping[str, list[str]],
    current: pd.Series,
    base: pd.Series,
    blocked: Iterable[str],
    cap: float,
    allowed: Callable[[str, str], bool],
) -> dict[str, str]:
    """Per ticker, the substitute a harvest would buy: the most correlated one ``allowed``
    (``allowed(ticker, candidate)``, e.g. the ESG rules) that is not wash-blocked and can
    take the whole position under ``cap``; failing that, the most correlated allowed one."""
    picks = {}
    for t, ranked in substitutes.items():
        moved = current.get(t, 0.0)
        ranked = [c for c in ranked if allowed(t, c)]
        fit = [c for c in ranked if c not in blocked
               and base.get(c, 0.0) + moved <= cap + TOL]
        if fit or ranked:
            picks[t] = (fit or ranked)[0]
    return picks


def swap_harvests(
    base: pd.Series, harvests: Sequence[Harvest], prices: pd.Series, value: float
) -> pd.Series:
    """``base`` with each harvested position's weight (at most what ``base`` holds) moved into
    its substitute, so the exposure stays while the loss is realised."""
    if not harvests:
        return base
    base = base.copy()
    for h in harvests:
        moved = min(h.shares * prices[h.ticker] / value, base.get(h.ticker, 0.0))
        base[h.ticker] = base.get(h.ticker, 0.0) - moved
        base[h.substitute] = base.get(h.substitute, 0.0) + moved
    return base


def keep_blocked_out(
    base: pd.Series, current: pd.Series, blocked: Sequence[str], wash_days: int
) -> tuple[pd.Series, list[str]]:
    """``base`` with no buying of ``blocked`` tickers (sold at a loss less than ``wash_days``
    ago): buying them back would be a wash sale. They may still be held or sold."""
    notes: list[str] = []
    if not blocked:
        return base, notes
    base = base.copy()
    for t in blocked:
        buyback = base.get(t, 0.0) - current.get(t, 0.0)
        if buyback > TOL:
            base[t] -= buyback
            notes.append(f"{t}: repurchase within {wash_days} days of a loss sale "
                         "would be a wash sale; kept out")
    return base, notes


def defer_wash_sales(
    base: pd.Series,
    current: pd.Series,
    tickers: Iterable[str],
    *,
    taxbook: TaxBook,
    prices: pd.Series,
    value: float,
    today: pd.Timestamp,
    harvested: set[str],
) -> tuple[pd.Series, list[str]]:
    """``base`` with each sale that would realise a loss within the wash window of a purchase
    put back to the current weight (deferred to a later decision). Harvested tickers are
    left alone: the harvester already chose lots that do not wash."""
    notes: list[str] = []
    for t in tickers:
        sell = current.get(t, 0.0) - base.get(t, 0.0)
        if sell <= TOL or t in harvested:
            continue
        if taxbook.sale_would_wash(t, sell * value / prices[t], prices[t], today):
            base = base.copy()
            base[t] = current[t]
            notes.append(f"{t}: sale deferred, it would realise a loss within "
                         f"{taxbook.wash_days} days of a purchase (wash sale)")
    return base, notes
