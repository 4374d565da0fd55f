"""The bar interval, read from the history's timestamps, and the VaR horizon in bars.

Daily bars (a median gap of 20 hours or more: weekends and holidays do not move the median)
count in sessions, so a ``1d`` horizon is one bar. Intraday bars count in clock time: a ``1h``
horizon on 5-minute bars is 12 bars. VaR and ES scale by the square root of the bar count
(iid bars), and the output says so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoport.errors import ConfigError, DataError

_DAILY = pd.Timedelta(hours=20)
_SPEC = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(bars?|d|days?|h|hours?|min|m|s)?\s*$", re.I)


@dataclass(frozen=True)
class Horizon:
    interval: pd.Timedelta  # median gap between bars
    daily: bool  # bars are sessions
    bars: int  # horizon in bars; VaR/ES scale by sqrt(bars)
    text: str  # what the output states

    @property
    def scale(self) -> float:
        return math.sqrt(self.bars)


def bar_interval(index: pd.DatetimeIndex) -> pd.Timedelta:
    """Median gap between consecutive timestamps."""
    if len(index) < 3:
        raise DataError("the history needs at least three bars to read the bar interval")
    gaps = np.diff(index.values).astype("timedelta64[ns]").astype(np.int64)
    return pd.Timedelta(int(np.median(gaps)), unit="ns")


def _label(td: pd.Timedelta) -> str:
    s = td.total_seconds()
    for unit, size in (("h", 3600), ("min", 60), ("s", 1)):
        if s >= size and s % size == 0:
            return f"{int(s // size)}{unit}"
    return f"{s:g}s"


def resolve_horizon(spec: str, index: pd.DatetimeIndex) -> Horizon:
    """``spec`` like ``1d``, ``5d``, ``1h``, ``30min`` or ``12bars`` on the history's bars."""
    m = _SPEC.match(str(spec))
    if not m:
        raise ConfigError(
            f"horizon {spec!r} is not understood; write a duration like 1d, 5d, 1h, 30min "
            "or a bar count like 12bars"
        )
    amount, unit = float(m.group(1)), (m.group(2) or "d").lower()
    interval = bar_interval(index)
    daily = interval >= _DAILY
    if unit.startswith("bar"):
        bars = amount
    elif unit in ("d", "day", "days") and daily:
        bars = amount  # sessions
    else:
        seconds = {"d": 86400, "day": 86400, "days": 86400, "h": 3600, "hour": 3600,
                   "hours": 3600, "min": 60, "m": 60, "s": 1}[unit] * amount
        if daily:
            raise ConfigError(
                f"horizon {spec!r} is shorter than a day but the bars are daily; "
                "use a horizon in days (1d, 5d)"
            )
        bars = seconds / interval.total_seconds()
    n = int(round(bars))
    if n < 1 or abs(bars - n) > 1e-9:
        raise ConfigError(
            f"horizon {spec!r} is not a whole number (>= 1) of {_label(interval) if not daily else '1-session'} "
            "bars; choose a multiple of the bar interval"
        )
    what = "session" if daily else f"{_label(interval)} bar"
    text = (
        f"bars every {'session (daily)' if daily else _label(interval)} (median gap of the "
        f"history); horizon {spec} = {n} {what}{'s' if n > 1 else ''}"
        + (f", VaR/ES scaled by sqrt({n})" if n > 1 else "")
    )
    return Horizon(interval, daily, n, text)
