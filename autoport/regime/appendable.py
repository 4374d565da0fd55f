"""Append rows to an array handed out read-only, without copying the rows already there.

The regime state of a backtest (the prices and feature rows seen, the filtered probabilities,
the hysteresis path) grows by a few rows at each decision; ``np.concatenate`` copies the whole
history each time (quadratic in the backtest's length). :func:`append` writes the new rows in
the spare room of the array's buffer instead, when nobody else has written past its end: a
copy of a filter or stream (the autopilot advances copies) that shares the buffer and appends
first claims that room, and the other then gets a fresh buffer. The views handed out are
read-only, cover only their own rows, and no row is ever written twice, so every view keeps
its values.
"""

from __future__ import annotations

import weakref

import numpy as np

# id of a live buffer -> rows written into it so far (what a view must end at to append in
# place); an entry leaves with its buffer
_CLAIMED: dict[int, int] = {}


def append(a: np.ndarray | None, rows: np.ndarray, *, order: str = "C") -> np.ndarray:
    """``np.concatenate([a, rows])`` (``a`` None: ``rows``) as a read-only view, the values
    the same; ``order`` the buffer's memory order (``"F"``: column-major, as pandas hands a
    frame's values)."""
    rows = np.asarray(rows)
    n = 0 if a is None else len(a)
    buf = None if a is None else a.base
    if (buf is not None and _CLAIMED.get(id(buf)) == n and len(buf) >= n + len(rows)
            and a.dtype == buf.dtype == rows.dtype and a.shape[1:] == rows.shape[1:]
            and _starts_at(a, buf)):
        buf[n:n + len(rows)] = rows
    else:
        dtype = rows.dtype if a is None else np.result_type(a, rows)
        shape = rows.shape[1:] if a is None else a.shape[1:]
        if a is not None and a.shape[1:] != rows.shape[1:]:
            return _frozen(np.concatenate([a, rows]))  # (raises as concatenate does)
        buf = np.empty((max(2 * (n + len(rows)), 64),) + shape, dtype=dtype, order=order)
        if n:
            buf[:n] = a
        buf[n:n + len(rows)] = rows
        weakref.finalize(buf, _CLAIMED.pop, id(buf), None)
    _CLAIMED[id(buf)] = n + len(rows)
    return _frozen(buf[:n + len(rows)])


def _starts_at(a: np.ndarray, buf: np.ndarray) -> bool:
    """``a`` is ``buf[:len(a)]`` (the view :func:`append` made)."""
    return (a.__array_interface__["data"][0] == buf.__array_interface__["data"][0]
            and a.strides == buf.strides)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a
