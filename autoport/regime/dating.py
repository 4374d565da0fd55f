"""Bull and bear markets dated by the peak-to-trough rule (Lunde and Timmermann, 2004).

A **bear market** is a decline of ``decline`` (20%) or more from a peak; it ends at the trough
from which prices rise by ``recovery`` (20%) or more. Peaks and troughs alternate: while in a
bull phase the running maximum is the candidate peak, while in a bear phase the running minimum
is the candidate trough. Labels: sessions after a peak up to and including its trough are
``bear``; every other session is ``bull`` (including the lead-in before the first confirmed
turning point, since no qualifying decline has happened there).

The dating is **ex post**: a peak is only known to be one once prices have fallen 20% below it,
so this is a reference for scoring a detector, never an input to a strategy. A bear phase still
open at the last date (no 20% rally yet) runs to the end and is provisional.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoport.errors import ConfigError, DataError


@dataclass(frozen=True)
class TurningPoint:
    date: pd.Timestamp
    kind: str  # "peak" (a bear market starts after it) or "trough" (a bull market starts)
    level: float


def turning_points(
    prices: pd.Series, *, decline: float = 0.20, recovery: float = 0.20
) -> list[TurningPoint]:
    """Alternating peaks and troughs of ``prices`` by the peak-to-trough rule."""
    if not 0 < decline < 1:
        raise ConfigError(f"decline {decline} must be a fraction in (0, 1), for example 0.20")
    if recovery <= 0:
        raise ConfigError(f"recovery {recovery} must be a positive fraction, for example 0.20")
    p = np.asarray(prices, dtype=float)
    if len(p) < 2 or not np.isfinite(p).all() or (p <= 0).any():
        raise DataError("bear-market dating needs at least 2 finite, positive index levels")
    points: list[TurningPoint] = []
    state = None  # None until the first turning point is confirmed
    hi = lo = 0  # positions of the running max / min of the current phase
    for t in range(1, len(p)):
        if state != "bear" and p[t] > p[hi]:
            hi = t
        if state != "bull" and p[t] < p[lo]:
            lo = t
        if state != "bear" and p[t] <= p[hi] * (1 - decline):
            points.append(TurningPoint(prices.index[hi], "peak", float(p[hi])))
            state, lo = "bear", t
        elif state != "bull" and p[t] >= p[lo] * (1 + recovery):
            if state is None:
                # the first confirmed move is a rise: there was no 20% decline before it
                state, hi = "bull", t
                continue
            points.append(TurningPoint(prices.index[lo], "trough", float(p[lo])))
            state, hi = "bull", t
    return points


def bull_bear_labels(
    prices: pd.Series, *, decline: float = 0.20, recovery: float = 0.20
) -> pd.Series:
    """``bear`` on (peak, trough], ``bull`` elsewhere, one label per date of ``prices``."""
    labels = np.full(len(prices), "bull", dtype=object)
    pos = {d: i for i, d in enumerate(prices.index)}
    start = None
    for tp in turning_points(prices, decline=decline, recovery=recovery):
        if tp.kind == "peak":
            start = pos[tp.date] + 1
        elif start is not None:
            labels[start : pos[tp.date] + 1] = "bear"
            start = None
    if start is not None:
        labels[start:] = "bear"
    return pd.Series(labels, index=prices.index, name="reference")


def bear_markets(
    prices: pd.Series, *, decline: float = 0.20, recovery: float = 0.20
) -> pd.DataFrame:
    """One row per bear market: peak, trough (NaT if still open), drawdown, length in sessions."""
    rows = []
    pos = {d: i for i, d in enumerate(prices.index)}
    pts = turning_points(prices, decline=decline, recovery=recovery)
    for i, tp in enumerate(pts):
        if tp.kind != "peak":
            continue
        nxt = pts[i + 1] if i + 1 < len(pts) else None
        if nxt is None:
            trough_date = prices.loc[tp.date :].idxmin()
            open_ = True
        else:
            trough_date, open_ = nxt.date, False
        rows.append({
            "peak": tp.date,
            "trough": trough_date,
            "drawdown": float(prices.loc[trough_date] / tp.level - 1),
            "sessions": pos[trough_date] - pos[tp.date],
            "open": open_,
        })
    return pd.DataFrame(rows, columns=["peak", "trough", "drawdown", "sessions", "open"])
