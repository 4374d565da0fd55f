"""The HMM behind a decision: fitted at the last point of a fixed refit grid, and cached.

A strategy is handed a longer history at each decision. Refitting at every decision would be
slow and would make the model depend on the call sequence; instead the model used on a history
of ``m`` feature rows is the one fitted on rows ``[lo, anchor)``, where ``anchor`` is the last
point of the grid ``min_train, min_train + refit_every, ...`` not after ``m`` (``lo`` is 0, or
``anchor - train_window`` for a rolling window). The grid depends on the history only, so any
call sequence gets the same fit; it is refitted only when the anchor or the rows move.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from autoport.errors import DataError
from autoport.regime.config import DetectorConfig
from autoport.regime.hmm import HMMFit, fit_hmm


class AnchoredFit:
    def __init__(self, detector: DetectorConfig, refit_every: int) -> None:
        self.detector = detector
        self.refit_every = refit_every
        self.fits = 0  # how many HMM fits ran (the cache's effect)
        self._cache: tuple[tuple, HMMFit] | None = None

    def fit_for(self, feats: pd.DataFrame) -> tuple[HMMFit, int, bool]:
        """``(fit, lo, fresh)``: the grid fit for ``feats``, the first row it was trained on,
        and whether it was fitted by this call."""
        det, every = self.detector, self.refit_every
        m = len(feats)
        if m < det.min_train:
            raise DataError(
                f"the regime model needs {det.min_train} feature rows before its first fit, got "
                f"{m}; start later or lower detector.min_train"
            )
        anchor = det.min_train + ((m - det.min_train) // every) * every
        lo = 0 if det.train_window is None else max(0, anchor - det.train_window)
        train = feats.iloc[lo:anchor]
        digest = hashlib.sha1(np.ascontiguousarray(train.to_numpy()).tobytes()).hexdigest()
        key = (lo, anchor, train.index[0], train.index[-1], digest)
        fresh = self._cache is None or self._cache[0] != key
        if fresh:
            self._cache = (key, fit_hmm(train, **det.fit_kwargs()))
            self.fits += 1
        return self._cache[1], lo, fresh
