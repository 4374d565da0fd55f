"""Min variance and max Sharpe of a run of neighbouring problems (rolling windows), exactly.

A backtest or a menu build solves the same constraint set on windows that move by a session or
a month; the active set (which weights sit at a bound) rarely changes between them. Each solve
here starts from the previous problem's active set (:func:`autoport.optimize._homotopy.settle`,
one dense KKT solve per guess) and walks the critical-line path from λ = 0 only when that does
not settle. Either way the answer is one dense KKT solve of the final active set, so it depends
on (μ, Σ, constraints) only, not on the warm start: the warm start changes the time, not the
numbers. It is the exact KKT point of the problem a conic solver approximates (to its
tolerance). Shared by the decision menus (:mod:`autoport.envs.menus`) and the MPT strategy
(:class:`autoport.portfolio.WindowSolver`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoport.optimize import _homotopy
from autoport.optimize.constraints import Resolved

PathFailed = _homotopy.PathFailed


@dataclass(frozen=True)
class PathPoints:
    """The exact minimum-variance weights and, when asked, the maximum-Sharpe weights.

    ``beats_rf`` is False when no admissible portfolio is expected to beat the risk-free rate:
    max Sharpe is then undefined and ``max_sharpe`` holds the minimum-variance weights (what
    :func:`autoport.optimize.optimize` returns with ``fallback_to_min_variance``).
    """

    min_variance: np.ndarray | None  # None: not asked for, and not needed
    max_sharpe: np.ndarray | None  # None: not asked for
    beats_rf: bool = True


class WarmPath:
    """Solves on one constraint set ``r``, each warm-started from the previous solve's
    active sets; raises :class:`PathFailed` where the exact path cannot answer (ties, a
    singular system), after forgetting the warm starts; the caller then solves otherwise."""

    batch = True  # settle's many-change steps (False: one change at a time, as before)

    def __init__(self, r: Resolved) -> None:
        self.r = r
        self.rows = _homotopy._rows(r)  # G w ≤ h, built once for every settle
        # last active sets ("mv", "ms"): the weights' bounds and the general rows held
        self.states: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        self.peak: float | None = None  # the λ of the last max-Sharpe point

    def solve(self, mu: np.ndarray, cov: np.ndarray, *, sharpe: bool = True,
              rf: float = 0.0, min_variance: bool = True) -> PathPoints:
        """Min variance and (``sharpe``) max Sharpe above ``rf`` for annualised (μ, Σ).

        With ``min_variance=False`` (only max Sharpe wanted) the minimum-variance point is
        solved only where max Sharpe needs it: on the first call (its active set is the first
        guess), when the guess does not settle (the walk starts there) or when nothing beats
        ``rf``; ``PathPoints.min_variance`` is then None on the other calls.
        """
        r = self.r
        w_mv = seg = None
        try:
            if min_variance or not sharpe or "ms" not in self.states:
                w_mv, seg = self._min_variance(mu, cov)
            if not sharpe:
                return PathPoints(w_mv, None)
            # nothing beats rf: every settle below would fail and the walk end on None (a
            # min-variance return above rf already says something does)
            idle = ((w_mv is None or float(mu @ w_mv) <= rf)
                    and _homotopy.below_rf(mu, r, rf))
            found = None if idle else self._settled_peak(mu, cov, seg, rf)
            if found is None:
                if w_mv is None:
                    w_mv, seg = self._min_variance(mu, cov)
                if not idle:
                    found = _homotopy.max_sharpe(mu, cov, r, rf, w_start=w_mv, polish=True)
            beats = found is not None
            w_ms, seg_ms = found if beats else (w_mv, seg)
            self.states["ms"] = self._held(seg_ms)
            self.peak = None if not beats else (  # a settled peak carries its λ
                seg_ms.peak if seg_ms.peak is not None
                else _homotopy.peak_lambda(mu, cov, seg_ms, rf))
        except PathFailed:
            self.states.clear()
            self.peak = None
            raise
        return PathPoints(w_mv, w_ms, beats)

    def _settled_peak(self, mu, cov, seg, rf: float):
        """:meth:`_max_sharpe` from the last peak's active set (else ``seg``'s), or None."""
        start, rows = self.states["ms"] if "ms" in self.states else self._held(seg)
        try:
            return self._max_sharpe(mu, cov, start, rows, rf)
        except PathFailed:
            return None

    def _max_sharpe(self, mu, cov, start, rows, rf: float):
        """Max Sharpe settled from the previous peak's active set; where that set has no
        peak on the new problem (the month's move pushed the peak past one of its
        breakpoints), settled again through the path's point at the previous peak's λ (its
        active set is the new path's there, usually one step from the new peak's) before
        the caller walks the path. Either answer is the dense KKT point of the final active
        set at its Sharpe peak, as the walk's polished one."""
        r = self.r
        try:
            return _homotopy.settle(mu, cov, r, start, rows, lam=None, rf=rf,
                                    batch=self.batch, rows=self.rows)
        except PathFailed:
            if self.peak is None:
                raise
        _, seg = _homotopy.settle(mu, cov, r, start, rows, lam=self.peak, batch=self.batch,
                                  rows=self.rows)
        return _homotopy.settle(mu, cov, r, *self._held(seg), lam=None, rf=rf,
                                batch=self.batch, rows=self.rows)

    def _min_variance(self, mu: np.ndarray, cov: np.ndarray):
        try:
            w_mv, seg = _homotopy.settle(mu, cov, self.r, *self._state("mv"), lam=0.0,
                                          batch=self.batch, rows=self.rows)
        except PathFailed:
            w_mv, seg = _homotopy.min_variance(mu, cov, self.r, polish=True)
        self.states["mv"] = self._held(seg)
        return w_mv, seg

    def _held(self, seg) -> tuple[np.ndarray, np.ndarray]:
        return seg.state, _homotopy.active_rows(self.r, seg, self.rows)

    def _state(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        found = self.states.get(name)
        return found if found is not None else (np.zeros(self.r.n, dtype=int), None)
