"""Hysteresis on regime probabilities: switch only on a confident, lasting, spaced signal."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from autoport.errors import ConfigError
from autoport.regime.appendable import append


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
    return Hysteresis(threshold=threshold, hold_days=hold_days, min_hold=min_hold)(
        probabilities)


class Hysteresis:
    """:func:`hysteresis` of a growing probability path, continuing from the last row seen.

    Each value depends on the rows up to its date only, so when the probabilities handed in
    continue those of the previous call (the same values, to the bit, on every earlier row) the
    walk resumes from its state there (the regime acted on, the streak, the sessions since the
    last switch): a backtest's decisions cost the new sessions, not the whole path. Any other
    path is walked from its first row.

    Parameters
    ----------
    threshold, hold_days, min_hold
        As :func:`hysteresis`.
    """

    def __init__(self, *, threshold: float = 0.7, hold_days: int = 5, min_hold: int = 0) -> None:
        if not 0 < threshold <= 1 or hold_days < 1 or min_hold < 0:
            raise ConfigError(
                f"hysteresis needs 0 < threshold <= 1, hold_days >= 1, min_hold >= 0; got "
                f"{threshold}, {hold_days}, {min_hold}"
            )
        self.threshold, self.hold_days, self.min_hold = threshold, hold_days, min_hold
        self._seen = np.empty((0, 0))  # the probabilities walked
        self._columns: list = []
        self._out = np.empty(0, dtype=int)  # column of the regime acted on, per row
        self._labels = np.empty(0, dtype=object)  # its name
        self._state = (0, 0, 0)  # (active, streak, since) after the last row

    def __call__(self, probabilities: pd.DataFrame) -> pd.Series:
        """The regime acted on at each date of ``probabilities`` (see :func:`hysteresis`)."""
        labels = self.labels(probabilities.to_numpy(dtype=float), list(probabilities.columns))
        return pd.Series(labels.copy(), index=probabilities.index, name="active_regime")

    def labels(self, p: np.ndarray, columns: list) -> np.ndarray:
        """:meth:`__call__` of the probabilities as an array ``p`` (rows by date, ``columns``
        their regimes): the regimes' names as a read-only object array, no Series.

        Parameters
        ----------
        p
            Probabilities, shape (T, K), rows by date.
        columns
            The K regimes' names.
        """
        n = len(self._seen)
        if not (n and len(p) >= n and columns == self._columns
                and p.shape[1] == self._seen.shape[1]
                and bool((p[:n].view(np.int64) == self._seen.view(np.int64)).all())):
            n = 0
            self._seen, self._out, self._columns = p[:0].copy(), self._out[:0], list(columns)
        self._walk(p, n)
        return self._labels

    def __deepcopy__(self, memo) -> Hysteresis:
        """A walk that continues apart from this one; its arrays are replaced, never written,
        so the copy shares them."""
        new = copy.copy(self)
        memo[id(self)] = new
        return new

    def _walk(self, p: np.ndarray, start: int) -> None:
        """Rows ``start..`` of ``p``, from the state after row ``start - 1``."""
        first = max(start - 1, 0)  # the row before the new ones: its top regime
        rows = p[first:]
        top = rows.argmax(axis=1)
        confident = np.take_along_axis(rows, top[:, None], axis=1)[:, 0] >= self.threshold
        out = np.empty(len(p) - start, dtype=int)
        if start == 0:
            active, streak, since = (int(top[0]) if len(p) else 0), 0, 0
        else:
            active, streak, since = self._state
        for t in range(start, len(p)):
            i = t - first
            if confident[i] and t > 0 and top[i] == top[i - 1] and streak > 0:
                streak += 1
            else:
                streak = 1 if confident[i] else 0
            since += 1
            if top[i] != active and streak >= self.hold_days and since >= self.min_hold:
                active, since = int(top[i]), 0
            out[t - start] = active
        names = np.asarray(self._columns, dtype=object)
        # (appended in place: the arrays handed out are views that keep their rows)
        self._out = append(self._out[:start], out)
        self._labels = append(self._labels[:start], names[out])
        self._seen = append(self._seen if start else None, p[start:])
        self._state = (active, streak, since)
