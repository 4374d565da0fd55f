"""Hysteresis on regime probabilities: switch only on a confident, lasting, spaced signal."""

from __future__ import annotations

import numpy as np
import pandas as pd

from autoport.errors import ConfigError


def hysteresis(
    probabilities: pd.DataFrame,
    *,
    threshold: float = 0.7,
    hold_days: int = 5,
    min_hold: int = 0,
) -> pd.Series:
    """The regime acted on at each date.

    It starts as the first row's most likely regime and changes to regime ``r`` only when
    ``r`` has been the most likely regime with probability >= ``threshold`` on ``hold_days``
    consecutive sessions and at least ``min_hold`` sessions have passed since the last change.
    Each value uses rows up to its date only.
    """
    if not 0 < threshold <= 1 or hold_days < 1 or min_hold < 0:
        raise ConfigError(
            f"hysteresis needs 0 < threshold <= 1, hold_days >= 1, min_hold >= 0; got "
            f"{threshold}, {hold_days}, {min_hold}"
        )
    p = probabilities.to_numpy()
    names = np.asarray(probabilities.columns)
    top = p.argmax(axis=1)
    confident = p.max(axis=1) >= threshold
    out = np.empty(len(p), dtype=int)
    active, streak, since = (top[0] if len(p) else 0), 0, 0
    for t in range(len(p)):
        if confident[t] and t > 0 and top[t] == top[t - 1] and streak > 0:
            streak += 1
        else:
            streak = 1 if confident[t] else 0
        since += 1
        if top[t] != active and streak >= hold_days and since >= min_hold:
            active, since = top[t], 0
        out[t] = active
    return pd.Series(names[out], index=probabilities.index, name="active_regime")
