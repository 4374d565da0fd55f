"""Capping long-only weights at position and sector limits, the excess spread pro rata.

Used where a solver cannot carry the limits itself: risk parity is solved without them and
then capped (:func:`cap_and_renormalise`), and the pre-trade checks resize a proposal with the
same two caps. Weights are fractions of the portfolio; ``1 - sum`` is cash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

TOL = 1e-9


def cap_positions(weights: pd.Series, max_position: float) -> tuple[pd.Series, list[str]]:
    """Cap each weight at ``max_position`` and spread the excess pro rata over the others.

    Water-filling: repeats until no weight is above the cap; what cannot be placed (every
    asset at its cap) stays in cash. Returns the weights and one sentence per capped asset.
    Weights none of which is above the cap come back as they are, without the pandas passes
    (what the water-filling gives them: the pre-trade checks call this at every decision).
    """
    if (weights.to_numpy(dtype=float) <= max_position).all():
        return weights.astype(float), []
    return _water_fill(weights, max_position)


def _water_fill(weights: pd.Series, max_position: float) -> tuple[pd.Series, list[str]]:
    """:func:`cap_positions`' water-filling."""
    w = weights.astype(float).copy()
    over = w[w > max_position + TOL]
    notes = [f"{t} capped from {v:.2%} to the {max_position:.2%} position limit"
             for t, v in over.items()]
    for _ in range(len(w) + 1):
        excess = float((w - max_position).clip(lower=0).sum())
        if excess <= TOL:
            break
        w = w.clip(upper=max_position)
        room = (max_position - w).clip(lower=0)
        receivers = w[(room > TOL) & (w > TOL)]
        if receivers.empty:
            receivers = w[room > TOL]
        if receivers.empty:
            break
        total = receivers.sum()
        share = receivers / total if total > 0 else receivers * 0 + 1 / len(receivers)
        w.loc[share.index] += excess * share
    return w.clip(upper=max_position), notes


def cap_sectors(
    weights: pd.Series, sectors: Mapping[str, str], limits: Mapping[str, float]
) -> tuple[pd.Series, list[str]]:
    """Scale each sector above its limit down to it; the excess goes pro rata to other sectors
    with room (cash when none has room). Weights whose sectors are all below their limits come
    back as they are, without the pandas passes; a sector within 1e-12 of its limit's
    tolerance (where two summation orders could disagree) goes through them."""
    totals: dict[str, float] = {}
    for t, v in zip(weights.index, weights.to_numpy(dtype=float), strict=True):
        g = sectors.get(t, "other")
        totals[g] = totals.get(g, 0.0) + v
    if all(g not in limits or v < limits[g] + TOL - 1e-12 for g, v in totals.items()):
        return weights.astype(float), []
    return _scale_sectors(weights, sectors, limits)


def _scale_sectors(
    weights: pd.Series, sectors: Mapping[str, str], limits: Mapping[str, float]
) -> tuple[pd.Series, list[str]]:
    """:func:`cap_sectors`' scaling passes."""
    w = weights.astype(float).copy()
    sec = pd.Series({t: sectors.get(t, "other") for t in w.index})
    notes: list[str] = []
    for _ in range(len(set(sec)) + 2):
        totals = w.groupby(sec).sum()
        over = {s: v for s, v in totals.items() if s in limits and v > limits[s] + TOL}
        if not over:
            break
        excess = 0.0
        for s, v in over.items():
            members = sec.index[sec == s]
            w.loc[members] *= limits[s] / v
            excess += v - limits[s]
            notes.append(f"sector {s} cut from {v:.2%} to its {limits[s]:.2%} limit")
        totals = w.groupby(sec).sum()
        room = {s: limits.get(s, 1.0) - totals[s] for s in totals.index if s not in over}
        room = {s: r for s, r in room.items() if r > TOL}
        held = w[sec.isin(list(room)) & (w > TOL)]
        if held.empty:
            break
        w.loc[held.index] += excess * held / held.sum()
    return w, notes


def cap_and_renormalise(
    weights: pd.Series, cap: float, *, shut: Iterable[str] = (),
    groups: Mapping[str, str] | None = None, group_max: Mapping[str, float] | None = None,
) -> tuple[pd.Series, list[str]]:
    """Long-only, fully invested ``weights`` (negatives clipped, the ``shut`` names set to 0,
    the rest renormalised to 1), capped at ``cap`` per asset and, with ``group_max``, at the
    sector limits (then at ``cap`` again, since the sector spread can push a name over it).
    Returns the weights and one sentence per cap applied."""
    w = weights.clip(lower=0.0)
    w[list(shut)] = 0.0
    w = w / w.sum()
    w, capped = cap_positions(w, cap)
    if group_max:
        w, more = cap_sectors(w, groups or {}, group_max)
        w, again = cap_positions(w, cap)
        capped += more + again
    return w, capped
