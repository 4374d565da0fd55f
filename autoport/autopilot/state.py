"""What the autopilot carries from one decision to the next, as one frozen value.

Each decision of :class:`autoport.strategies.autopilot.Autopilot` takes an
:class:`AutopilotState` and returns a new one (``dataclasses.replace``); nothing in a state
is changed in place, so deciding twice from the same state gives the same decision. The tax
book and the regime filter are mutable objects: a step that changes them works on a copy.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter

import numpy as np
import pandas as pd

from autoport.autopilot.override import OverrideState
from autoport.autopilot.regimes import AutopilotRegimes
from autoport.autopilot.tax import TaxBook


class ValueTrail(tuple):
    """The book's ``(session, value)`` pairs: the tuple they are (equal to it), with the
    values also as one read-only array and whether the sessions strictly increase, both
    carried along as the trail grows, so a decision reads the whole history's values
    without a Python pass over it."""

    amounts: np.ndarray  # the values, in order
    increasing: bool  # each session after the one before (no session twice)

    def __new__(cls, pairs: Iterable[tuple[pd.Timestamp, float]] = ()) -> ValueTrail:
        trail = super().__new__(cls, pairs)
        days = [d for d, _ in trail]
        trail.increasing = all(a < b for a, b in zip(days, days[1:]))
        trail.amounts = np.fromiter((v for _, v in trail), dtype=float, count=len(trail))
        trail.amounts.flags.writeable = False
        return trail

    def extend(self, pairs: list[tuple[pd.Timestamp, float]]) -> ValueTrail:
        """A new trail with ``pairs`` after these (this one is left as it was)."""
        if not pairs:
            return self
        trail = tuple.__new__(ValueTrail, (*self, *pairs))
        days = [d for d, _ in pairs]
        trail.increasing = (self.increasing and (not self or self[-1][0] < days[0])
                            and all(a < b for a, b in zip(days, days[1:])))
        trail.amounts = np.concatenate(
            (self.amounts, np.fromiter((v for _, v in pairs), dtype=float, count=len(pairs))))
        trail.amounts.flags.writeable = False
        return trail

    def position(self, day: pd.Timestamp) -> int:
        """The index of ``day``'s pair in an increasing trail (KeyError when absent)."""
        i = bisect.bisect_left(self, day, key=itemgetter(0))
        if i == len(self) or self[i][0] != day:
            raise KeyError(day)
        return i


@dataclass(frozen=True)
class AutopilotState:
    taxbook: TaxBook  # tax lots and realised gains from the engine's fills
    regimes: AutopilotRegimes | None = None  # the online regime filter (None: regimes off)
    capital: float | None = None  # the book's value at the first decision
    ordered: Mapping[str, float] = field(default_factory=dict)  # decision price per pending order
    target: pd.Series | None = None  # the last target traded toward
    last_review: pd.Timestamp | None = None  # the last session a trigger fired
    last_date: pd.Timestamp | None = None  # the last decision's session
    override: OverrideState = field(default_factory=OverrideState)
    peak: float = 0.0  # the book's running peak value (reset on an override restore)
    prev_regime: str | None = None
    # the book's value each session (a ValueTrail once the autopilot has added to it)
    values: tuple[tuple[pd.Timestamp, float], ...] = ()
    peaks: tuple[float, ...] = ()  # the running peak on each of those sessions
    tax_year: int | None = None  # the first year whose tax is not yet paid
    carryforward: float = 0.0  # capital loss carried forward (currency, positive)
    taxes_paid: tuple[tuple[pd.Timestamp, float], ...] = ()
    substitutes: Mapping[str, list[str]] | None = None  # harvest substitutes, refreshed yearly
