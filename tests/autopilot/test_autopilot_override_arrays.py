"""The override inputs' array shortcuts against the pandas/numpy forms they replace: the
weights' flags of :func:`risk_checks.window_vars` (``np.isfinite(w).all()``, ``np.any(w)``
per vector) and :func:`_aligned` (``reindex(fill_value=0.0).to_numpy(float)``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from autoport.autopilot import risk_checks
from autoport.strategies.autopilot import _aligned


def test_weight_flags_are_each_vectors_isfinite_all_and_any():
    rng = np.random.default_rng(3)
    rows = [rng.dirichlet(np.ones(5)) for _ in range(6)]
    rows[1] = np.zeros(5)
    rows[2] = np.array([0.0, np.nan, 0.0, 0.0, 0.0])
    rows[3] = np.array([0.0, -0.0, 0.0, np.inf, 0.0])
    rows[4] = np.array([-0.0] * 5)
    for weights in (rows, [*rows, rows[0]], [np.zeros(0)] * 5, [], rows[:3], rows[1:2],
                    [*rows, np.ones(3)]):  # stacked, one by one, and mixed lengths
        finite, invested = risk_checks._weight_flags(weights)
        assert finite == [bool(np.isfinite(w).all()) for w in weights]
        assert invested == [bool(np.any(w)) for w in weights]
    finite, invested = risk_checks._weight_flags(rows)
    assert finite == [True, True, False, False, True, True]
    assert invested == [True, False, True, True, False, True]


def test_aligned_is_reindex_with_zero_fill():
    idx = pd.Index(["A", "B", "C", "D"])
    for w in (pd.Series([0.1, 0.2, 0.3, 0.4], index=idx),
              pd.Series([0.5, 0.25], index=["C", "A"]),
              pd.Series([1, 2, 3, 4], index=idx),  # integer shares
              pd.Series([0.5, 0.5], index=["A", "Z"])):  # a label outside: dropped
        want = w.reindex(idx, fill_value=0.0).to_numpy(dtype=float)
        got = _aligned(w, idx)
        assert got.dtype == np.float64 and np.array_equal(got, want)
