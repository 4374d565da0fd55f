"""What the autopilot carries from one decision to the next, as one frozen value.

Each decision of :class:`autoport.strategies.autopilot.Autopilot` takes an
:class:`AutopilotState` and returns a new one (``dataclasses.replace``); nothing in a state
is changed in place, so deciding twice from the same state gives the same decision. The tax
book and the regime filter are mutable objects: a step that changes them works on a copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import pandas as pd

from autoport.autopilot.override import OverrideState
from autoport.autopilot.regimes import AutopilotRegimes
from autoport.autopilot.tax import TaxBook


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
    values: tuple[tuple[pd.Timestamp, float], ...] = ()  # the book's value each session
    peaks: tuple[float, ...] = ()  # the running peak on each of those sessions
    tax_year: int | None = None  # the first year whose tax is not yet paid
    carryforward: float = 0.0  # capital loss carried forward (currency, positive)
    taxes_paid: tuple[tuple[pd.Timestamp, float], ...] = ()
    substitutes: Mapping[str, list[str]] | None = None  # harvest substitutes, refreshed yearly
