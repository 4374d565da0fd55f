"""The one online regime filter: online regime probabilities of a growing history.

The filter owns the refit grid and drives a detector (:mod:`autoport.regime.models`: the
Gaussian HMM, whose probabilities are filtered ones, or the statistical jump model, whose labels
come from its forward dynamic programme); every rule below holds for both.

``autoport regime`` (through :func:`autoport.regime.detector.detect`), the DQN environment's
regime features, the regime strategy and the autopilot all use :class:`OnlineRegimeFilter`, so
they report and act on the same probability on every date.

**The refit grid** (the only rule). Number the feature rows 0, 1, ... from the first row of the
history. The grid points are ``a_k = min_train + k * refit_every``. The fit of grid point ``a``
is trained on rows ``[lo, a)`` (``lo = 0``, or ``max(0, a - train_window)`` for a rolling
window) and labels rows ``a .. a + refit_every - 1``: the probability on row ``r`` is the
filtered ``P(state_r | rows lo..r)`` under the fit of the last grid point ``a <= r``, by the
forward recursion from row ``lo``. Rows before ``min_train`` get none. So the probability on a
date reads rows up to that date only, and a fit never reads the rows it labels. The grid depends
on the history's first row only, so a history cut at any date gets the same probabilities as
the whole one up to that date.

**Warm starts** (the HMM). The first fit runs ``n_restarts`` seeded restarts; every later fit starts EM
from the previous fit's parameters (re-expressed in the new window's standardization) plus
``refit_restarts`` seeded restarts (default 0) and keeps the candidate with the highest
likelihood (:func:`autoport.regime.hmm.fit_hmm`). A refit so starts where the model was and
converges in a few EM steps, and the states keep their meaning from one refit to the next. If
the warm start alone fails, that refit falls back to the seeded restarts.

**Shared fits.** A fit is decided by the detector's settings and the rows up to its grid point,
so many filters over the same rows (a sweep's trials, which search anything but the detector)
can share them: inside :func:`sharing`, ``_refit`` looks the fit (and the carry at its grid
point) up by a hash of both before fitting. The sweep builds them once on its driver and hands
them to the workers (:func:`install`). Off by default, so ``n_fits`` counts every fit outside a
sweep.

**Batch and incremental give the same numbers, bit for bit.** :meth:`run` is :meth:`update`
over all rows; :meth:`update` adds rows (refitting at each grid point it passes) and continues
the forward recursion exactly where it stopped; :meth:`sync` takes the whole history a strategy
is handed and only processes what is new.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np
import pandas as pd

from autoport.errors import ConfigError, DataError
from autoport.regime.appendable import append
from autoport.regime.config import DetectorConfig
from autoport.regime.features import same_dates
from autoport.regime.hmm import REGIMES, RegimeResult
from autoport.regime.models import Detector, HMMDetector, RegimeFit, make_detector


# Fits shared between filters of this process while sharing is on (None: off); see the doc.
_SHARED: dict[str, tuple[RegimeFit, object]] | None = None


@contextmanager
def sharing(fits: dict | None = None):
    """Share fits between filters in this block (seeded with ``fits``); yields the table.

    Parameters
    ----------
    fits
        Fits to start from, keyed by the hash of the detector's settings and rows.
    """
    global _SHARED
    previous, _SHARED = _SHARED, {**(_SHARED or {}), **(fits or {})}
    try:
        yield _SHARED
    finally:
        _SHARED = previous


def install(fits: dict) -> None:
    """Turn sharing on for the rest of this process, seeded with ``fits`` (a sweep worker).

    Parameters
    ----------
    fits
        Fits keyed as in :func:`sharing` (built by the sweep's driver).
    """
    global _SHARED
    _SHARED = {**(_SHARED or {}), **fits}


class OnlineRegimeFilter:
    """Online regime probabilities under the refit grid of the module docstring.

    ``detector`` fits each grid point (default: an :class:`~autoport.regime.models.HMMDetector`
    with ``warm_start``, ``refit_restarts`` and ``fit_kwargs``, which go to
    :func:`autoport.regime.hmm.fit_hmm`). State: the feature rows seen, the fits of the grid
    points passed, the probabilities of the labelled rows, and the recursion's carry at the start
    of each fit's segment and after the last row (to continue it).

    Parameters
    ----------
    min_train
        Rows before the first grid point (no probability before it), at least 60.
    refit_every
        Rows between grid points (refits).
    train_window
        Rows each fit trains on (a rolling window); None: every row from the first.
    detector
        The model fitted at each grid point; None: a Gaussian HMM.
    warm_start
        Start each HMM refit from the previous fit's parameters.
    refit_restarts
        Seeded restarts added to each warm-started HMM refit.
    **fit_kwargs
        Passed to :func:`autoport.regime.hmm.fit_hmm` (the default HMM only).
    """

    def __init__(
        self,
        *,
        min_train: int = 504,
        refit_every: int = 63,
        train_window: int | None = None,
        detector: Detector | None = None,
        warm_start: bool = True,
        refit_restarts: int = 0,
        **fit_kwargs,
    ) -> None:
        if min_train < 60:
            raise ConfigError(f"min_train {min_train} is too short; use at least 60 sessions")
        if refit_every < 1:
            raise ConfigError(f"refit_every {refit_every} must be at least 1 session")
        if train_window is not None and train_window < min_train:
            raise ConfigError(
                f"train_window {train_window} is shorter than min_train {min_train}; raise it"
            )
        self.min_train = min_train
        self.refit_every = refit_every
        self.train_window = train_window
        if refit_restarts < 0:
            raise ConfigError(f"refit_restarts {refit_restarts} must be 0 or more")
        self.detector = detector if detector is not None else HMMDetector(
            warm_start=warm_start, refit_restarts=refit_restarts, **fit_kwargs)
        # on_fit(done, total): called after each grid point an update fits (a progress bar)
        self.on_fit: Callable[[int, int], None] | None = None
        self.n_fits = 0  # fits run by this object (what the incremental path saves)
        self.reset()

    @classmethod
    def from_detector(
        cls, detector: DetectorConfig, refit_every: int | None = None
    ) -> OnlineRegimeFilter:
        """The filter of a detector config; ``refit_every`` overrides the detector's (the
        regime strategy and the autopilot take theirs from ``strategy.refit_every``).

        Parameters
        ----------
        detector
            The detector's settings (``configs/regime.yaml``'s ``detector``).
        refit_every
            Rows between refits; None: the detector's own.
        """
        return cls(
            min_train=detector.min_train,
            refit_every=detector.refit_every if refit_every is None else refit_every,
            train_window=detector.train_window,
            detector=make_detector(detector),
        )

    def __deepcopy__(self, memo) -> OnlineRegimeFilter:
        """A filter that advances apart from this one (the autopilot advances a copy at each
        step). Cheap: the arrays are replaced at each update, never written, and the fits and
        carries are values, so the copy shares them; only the growing lists are copied."""
        new = copy.copy(self)
        new._fits, new._starts = list(self._fits), list(self._starts)
        memo[id(self)] = new
        return new

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget every row, fit and probability (the next rows start a new history)."""
        self._columns: tuple[str, ...] | None = None
        self._dates = pd.Index([])
        self._rows = np.empty((0, 0))
        self._probs = np.empty((0, len(REGIMES)))  # labelled rows, REGIMES order
        self._fits: list[RegimeFit] = []
        self._starts: list = []  # the carry at each fit's grid point
        self._carry = None  # the carry after the last row
        self._frame: pd.DataFrame | None = None

    def __len__(self) -> int:
        """Feature rows seen."""
        return len(self._rows)

    @property
    def fits(self) -> tuple[RegimeFit, ...]:
        """The fits of the grid points passed, in order."""
        return tuple(self._fits)

    @property
    def last_fit(self) -> RegimeFit:
        """The fit that labels the last row seen."""
        if not self._fits:
            raise DataError(
                f"no regime fit yet: the first fit needs {self.min_train} feature rows before "
                f"the row it labels, {len(self)} seen"
            )
        return self._fits[-1]

    @property
    def probabilities(self) -> pd.DataFrame:
        """Filtered probabilities of every labelled row (bull, bear, sideways columns)."""
        if self._frame is None:
            self._frame = pd.DataFrame(self._probs, index=self.labelled_dates,
                                       columns=list(REGIMES))
        return self._frame

    def result(self) -> RegimeResult:
        """The probabilities with the fits that made them and the dates each fit labelled."""
        if not self._fits:
            raise DataError(
                f"{len(self)} sessions of features leave nothing to label after min_train "
                f"{self.min_train}; pass a longer history or lower min_train"
            )
        n = len(self._rows)
        segments = []
        for k in range(len(self._fits)):
            a = self.min_train + k * self.refit_every
            segments.append((self._dates[a], self._dates[min(a + self.refit_every, n) - 1]))
        return RegimeResult(self.probabilities, self.fits, tuple(segments))

    # ------------------------------------------------------------------ runs
    def run(self, features: pd.DataFrame) -> RegimeResult:
        """The batch run: forget any state, then :meth:`update` with every row.

        Parameters
        ----------
        features
            Feature rows by date, shape (T, F) (:mod:`autoport.regime.features`).
        """
        self.reset()
        self.update(features)
        return self.result()

    def sync(self, features: pd.DataFrame) -> pd.DataFrame:
        """Bring the state to ``features`` (a whole history) and return :attr:`probabilities`.

        When the rows seen are a prefix of ``features`` (the next decision of a backtest) only
        the new rows are processed; when ``features`` is a prefix of the rows seen (a new run
        over the same data) the state is cut back to it; anything else starts afresh.

        Parameters
        ----------
        features
            Feature rows by date, shape (T, F) (:mod:`autoport.regime.features`): the whole
            history up to now.
        """
        self.sync_arrays(features.index, features.to_numpy(dtype=float),
                         tuple(features.columns))
        return self.probabilities

    def sync_arrays(self, index: pd.Index, values: np.ndarray, columns: tuple) -> np.ndarray:
        """:meth:`sync` of the feature rows as arrays (dates, values, column names): the
        labelled rows' probabilities as a read-only array (columns in ``REGIMES`` order, dates
        :attr:`labelled_dates`), without the frame a decision would not read.

        Parameters
        ----------
        index
            The rows' dates, shape (T,).
        values
            Feature rows, shape (T, F): the whole history up to now.
        columns
            The F feature names.
        """
        n, m = len(self._rows), len(values)
        if n and tuple(columns) == self._columns:
            k = min(n, m)
            if same_dates(index, self._dates, k) and np.array_equal(values[:k], self._rows[:k]):
                if m > n:
                    self._add(index[n:], values[n:], self._columns)
                elif m < n:
                    self._truncate(m)
                return self._probs
        self.reset()
        if m:
            self._add(index, values, tuple(columns))
        return self._probs

    @property
    def labelled_dates(self) -> pd.Index:
        """The dates of the labelled rows (those :attr:`probabilities` holds)."""
        return self._dates[self.min_train:len(self._rows)]

    def update(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Add ``rows`` (dated after every row seen) and return the new rows' probabilities
        (rows before ``min_train`` get none); fits every grid point the rows reach.

        Parameters
        ----------
        rows
            New feature rows, shape (k, F), dated after every row seen.
        """
        if rows.empty:
            return pd.DataFrame(columns=list(REGIMES), dtype=float)
        new = self._add(rows.index, rows.to_numpy(dtype=float), tuple(rows.columns))
        return pd.DataFrame(new, index=self._dates[len(self._rows) - len(new):],
                            columns=list(REGIMES))

    def _add(self, index: pd.Index, values: np.ndarray, columns: tuple) -> np.ndarray:
        """:meth:`update` with the rows as arrays (at least one row); returns the new rows'
        probabilities (:meth:`sync` does not build the frame it would not read)."""
        if self._columns is None:
            self._columns = columns
            self._rows = np.empty((0, len(self._columns)))
        elif columns != self._columns:
            raise DataError(
                f"new feature rows have columns {list(columns)} but the filter holds "
                f"{list(self._columns)}; reset it or build the features with the same settings"
            )
        if len(self._dates) and index[0] <= self._dates[-1]:
            raise DataError(
                f"new feature rows start on {index[0]}, not after the last row seen "
                f"({self._dates[-1]}); use sync() for a history that is not a continuation"
            )
        start = len(self._rows)
        self._rows = append(self._rows, np.asarray(values, dtype=float))
        self._dates = index.copy() if start == 0 else self._dates.append(index)
        self._frame = None
        n, first_new = len(self._rows), len(self._probs)
        parts = [self._probs]
        r = max(start, self.min_train)
        step = self.refit_every
        first_grid = self.min_train + -(-(r - self.min_train) // step) * step
        to_fit, fitted = (len(range(first_grid, n, step)) if first_grid < n else 0), 0
        while r < n:
            a = self.min_train + (r - self.min_train) // self.refit_every * self.refit_every
            end = min(a + self.refit_every, n)
            if r == a:
                self._refit(a)
                fitted += 1
                if self.on_fit is not None:
                    self.on_fit(fitted, to_fit)
            probs, self._carry = self._fits[-1].step(self._rows[r:end], self._carry)
            parts.append(probs)
            r = end
        if len(parts) > 1:
            self._probs = append(self._probs, np.concatenate(parts[1:]))
        return self._probs[first_new:]

    # ------------------------------------------------------------------ internals
    def _refit(self, a: int) -> None:
        """Fit grid point ``a`` on rows ``[lo, a)`` and set the carry to the recursion's state
        after running the new fit over those training rows."""
        key = self._share_key(a) if _SHARED is not None else None
        if key is not None and key in _SHARED:
            fit, self._carry = _SHARED[key]
        else:
            lo = 0 if self.train_window is None else max(0, a - self.train_window)
            train = pd.DataFrame(self._rows[lo:a], index=self._dates[lo:a],
                                 columns=self._columns)
            fit = self.detector.fit(train, self._fits[-1] if self._fits else None)
            self.n_fits += 1
            self._carry = fit.start(self._rows[lo:a])
            if key is not None and _SHARED is not None:
                _SHARED[key] = (fit, self._carry)
        self._fits.append(fit)
        self._starts.append(self._carry)

    def _share_key(self, a: int) -> str:
        """What decides the fit of grid point ``a``: the detector's settings and every row (and
        date) before it (earlier fits, the warm starts, are decided by those rows too)."""
        settings = (type(self.detector).__name__,
                    sorted((k, repr(v)) for k, v in vars(self.detector).items()))
        h = hashlib.sha256(repr((self.min_train, self.refit_every, self.train_window,
                                 settings, self._columns)).encode())
        h.update(np.ascontiguousarray(self._rows[:a]).tobytes())
        h.update(np.ascontiguousarray(self._dates[:a].asi8).tobytes())
        return h.hexdigest()

    def _truncate(self, m: int) -> None:
        """Cut the state back to the first ``m`` rows (each row's value stays as it was: the
        last segment is re-run from its grid point's carry, the same arithmetic)."""
        labelled = max(0, m - self.min_train)
        self._rows, self._dates = self._rows[:m], self._dates[:m]
        self._frame = None
        self._probs = self._probs[:labelled]
        keep = 0 if not labelled else (m - 1 - self.min_train) // self.refit_every + 1
        self._fits, self._starts = self._fits[:keep], self._starts[:keep]
        if labelled:
            a = self.min_train + (keep - 1) * self.refit_every
            _, self._carry = self._fits[-1].step(self._rows[a:m], self._starts[-1])
        else:
            self._carry = None
