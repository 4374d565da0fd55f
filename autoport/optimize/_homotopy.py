"""The exact efficient frontier by parametric active-set homotopy (a generalised critical line).

Along the frontier ``min ½ wᵀΣw − λ μᵀw  s.t.  1ᵀw = b, lb ≤ w ≤ ub, Gw ≤ h`` the optimal
weights and multipliers are piecewise affine in the risk-tolerance parameter ``λ ≥ 0``: between
two breakpoints the active set is fixed and one KKT solve gives the whole segment. Starting from
the minimum-variance portfolio (λ = 0) the path walks up in λ, fixing a weight at a bound (or
adding a row) when it gets there and releasing it (dropping the row) when its multiplier changes
sign: Markowitz's critical line algorithm, extended to general linear inequalities. The expected
return is affine and non-decreasing on each segment, so the weights at any target return are one
evaluation: a 1000-point frontier costs about as much as a 10-point one.

Every returned point carries its own certificate: stationarity holds by the solve, and primal
feasibility, the target return and the multiplier signs are checked at the point. If a check
fails or the walk stalls (degenerate ties, a singular system) the caller falls back to solving
each point with a conic solver. Only linear constraints are handled here (no turnover, leverage
or transaction costs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoport.optimize.constraints import Resolved

TOL = 1e-9
_NO_ROWS = np.zeros(0, dtype=np.intp)  # the active rows of a problem without general rows
_NO_ROWS.setflags(write=False)


class PathFailed(Exception):
    """The walk cannot continue; the message says why (the caller falls back and notes it)."""


def _give_up(reason: str):
    raise PathFailed(reason)


def supported(r: Resolved) -> bool:
    return r.max_turnover is None and r.max_leverage is None and not r.has_costs


def _rows(r: Resolved) -> tuple[np.ndarray, np.ndarray]:
    """General inequality rows ``G w ≤ h`` (groups and the ESG floor)."""
    rows, rhs = [], []
    for k in range(len(r.group_names)):
        if not np.isnan(r.group_max[k]):
            rows.append(r.membership[k])
            rhs.append(r.group_max[k])
        if not np.isnan(r.group_min[k]):
            rows.append(-r.membership[k])
            rhs.append(-r.group_min[k])
    if r.esg is not None and r.min_esg is not None:
        rows.append(r.min_esg - r.esg)  # s·w ≥ m·1ᵀw  ⇔  (m − s)·w ≤ 0
        rhs.append(0.0)
    if not rows:
        return np.zeros((0, r.n)), np.zeros(0)
    return np.asarray(rows, dtype=float), np.asarray(rhs, dtype=float)


def _first_event(times: np.ndarray, ids: np.ndarray, floor: float, stale: list[bool]):
    """Smallest time (not below ``floor``) and its id, or (inf, None).

    A time below ``floor`` means the condition is already broken at the current λ (a wrong
    initial guess or a tie): ``stale`` records it so no point is read off this segment.
    """
    if len(times) == 0:
        return np.inf, None
    if times.min() < floor - 1e-12 * max(1.0, abs(floor)):
        stale[0] = True
    times = np.maximum(times, floor)
    j = int(times.argmin())
    return float(times[j]), int(ids[j])


@dataclass(frozen=True)
class Segment:
    """One piece of the path: ``w(λ) = w0 + λ·w1`` on ``[lo, hi]`` (``hi`` is inf on the last).

    ``mult0 + λ·mult1`` are the signed multipliers of the weights held at a bound (``fixed``),
    ``row0 + λ·row1`` those of the active rows (``act``): both must stay ≥ 0 on the segment.
    ``stale`` marks a segment entered with a condition already (slightly) broken: no point is
    read off it. ``state`` (-1 lower, +1 upper, 0 free) and ``act`` fix the active set.
    """

    lo: float
    hi: float
    w0: np.ndarray
    w1: np.ndarray
    fixed: np.ndarray
    mult0: np.ndarray
    mult1: np.ndarray
    act: np.ndarray
    row0: np.ndarray
    row1: np.ndarray
    state: np.ndarray
    stale: bool
    last: bool
    peak: float | None = None  # settle's: the λ of the Sharpe peak it stopped at (lam=None)


def _block(m: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``m[np.ix_(rows, cols)]`` (the same numbers, C-ordered) without building the index
    grids: two takes cost a tenth of ``np.ix_`` on the 20-asset problems solved per session."""
    return m.take(rows, axis=0).take(cols, axis=1)


def _system(mu, cov, r: Resolved, g_mat, h, state, act, free, fixed, cov_free=None):
    """The KKT pieces of one active set: constraint block, right-hand sides, fixed weights.

    ``cov_free``: Σ's free rows (``cov.take(free, axis=0)``) when the caller has them."""
    nf = len(free)
    lb, ub = r.lb, r.ub
    state_fixed = state.take(fixed)
    w_fixed = np.where(state_fixed < 0, lb.take(fixed), ub.take(fixed))
    cons = np.empty((1 + len(act), nf))
    cons[0] = 1.0
    if len(act):
        g_act = g_mat.take(act, axis=0)
        cons[1:] = g_act.take(free, axis=1)
    r_mat = np.empty((nf, 2))  # columns: constant part, coefficient of λ
    if len(fixed):
        if cov_free is None:
            cov_free = cov.take(free, axis=0)
        r_mat[:, 0] = -cov_free.take(fixed, axis=1) @ w_fixed
    else:
        r_mat[:, 0] = 0.0
    r_mat[:, 1] = mu.take(free)
    d = np.zeros((cons.shape[0], 2))
    d[0, 0] = r.budget - w_fixed.sum()
    if len(act):
        d[1:, 0] = h.take(act) - g_act.take(fixed, axis=1) @ w_fixed
    return cons, r_mat, d, w_fixed


def _dense(cov, free, cons, r_mat, d, cov_free=None):
    nf, mc = len(free), cons.shape[0]
    kkt = np.zeros((nf + mc, nf + mc))
    kkt[:nf, :nf] = (cov.take(free, axis=0) if cov_free is None else cov_free).take(free, axis=1)
    kkt[:nf, nf:] = cons.T
    kkt[nf:, :nf] = cons
    rhs = np.empty((nf + mc, 2))
    rhs[:nf] = r_mat
    rhs[nf:] = d
    sol = solve(kkt, rhs)
    return sol[:nf], sol[nf:]


_LAPACK = getattr(np.linalg, "_umath_linalg", None)
_GESV = {2: getattr(_LAPACK, "solve", None), 1: getattr(_LAPACK, "solve1", None)}


def solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.linalg.solve(a, b)`` for a float64 square ``a`` and a float64 ``b`` (1-d or 2-d):
    the gufunc it calls, so the same floats, without the wrapper's type and shape checks (half
    the time of a 20×20 solve, of which each decision runs a dozen). Raises ``LinAlgError`` on
    a singular ``a``, as the wrapper does."""
    gesv = _GESV.get(b.ndim)
    if gesv is None or a.dtype != np.float64 or b.dtype != np.float64:
        return np.linalg.solve(a, b)  # another numpy's layout, or other types
    with np.errstate(invalid="raise", over="ignore", divide="ignore", under="ignore"):
        try:
            return gesv(a, b, signature="dd->d")
        except FloatingPointError:
            raise np.linalg.LinAlgError("Singular matrix") from None


def _solve_active_set(mu, cov, r: Resolved, g_mat, h, state, act, free, fixed, failure: str):
    """One dense KKT solve of an active set: its λ-affine weights and multipliers
    (:func:`_expand`'s six arrays); ``failure`` names the place when the system is singular.

    The system and right-hand side of :func:`_system` and :func:`_dense`, written straight
    into the KKT matrix (the same floats in the same places: no intermediate blocks)."""
    nf, na, nx = len(free), len(act), len(fixed)
    lb, ub = r.lb, r.ub
    cov_free = cov.take(free, axis=0)
    state_fixed = state.take(fixed)
    w_fixed = np.where(state_fixed < 0, lb.take(fixed), ub.take(fixed))
    size = nf + 1 + na
    kkt = np.zeros((size, size))
    kkt[:nf, :nf] = cov_free.take(free, axis=1)
    kkt[:nf, nf] = 1.0
    kkt[nf, :nf] = 1.0
    rhs = np.zeros((size, 2))  # columns: constant part, coefficient of λ
    if nx:
        rhs[:nf, 0] = -cov_free.take(fixed, axis=1) @ w_fixed
    rhs[:nf, 1] = mu.take(free)
    rhs[nf, 0] = r.budget - w_fixed.sum()
    if na:
        g_act = g_mat.take(act, axis=0)
        g_free = g_act.take(free, axis=1)
        kkt[:nf, nf + 1:] = g_free.T
        kkt[nf + 1:, :nf] = g_free
        rhs[nf + 1:, 0] = h.take(act) - g_act.take(fixed, axis=1) @ w_fixed
    try:
        sol = solve(kkt, rhs)
    except np.linalg.LinAlgError:
        _give_up(failure)
    return _expand(mu, cov, g_mat, len(mu), state, act, free, fixed, sol[:nf], sol[nf:],
                   w_fixed, state_fixed)


def _expand(mu, cov, g_mat, n, state, act, free, fixed, sol_w, y, w_fixed, state_fixed=None):
    """Full weights and the multipliers of the fixed weights and active rows (λ-affine).
    ``state_fixed``: ``state.take(fixed)`` when the caller has it."""
    w0, w1 = np.zeros(n), np.zeros(n)
    w0[free], w1[free] = sol_w[:, 0], sol_w[:, 1]
    w0[fixed] = w_fixed
    nu0, nu1 = y[0, 0], y[0, 1]
    lam0, lam1 = y[1:, 0], y[1:, 1]
    # gradient of the Lagrangian at fixed weights; its signed value is the bound multiplier
    cov_fixed = cov.take(fixed, axis=0)
    grad0 = cov_fixed @ w0 + nu0
    grad1 = cov_fixed @ w1 - mu.take(fixed) + nu1
    if len(act):
        g_t = g_mat.take(act, axis=0).take(fixed, axis=1).T
        grad0 = grad0 + g_t @ lam0
        grad1 = grad1 + g_t @ lam1
    if state_fixed is None:
        state_fixed = state.take(fixed)
    sign = -state_fixed.astype(float)  # at lb the multiplier is grad, at ub it is −grad
    return w0, w1, sign * grad0, sign * grad1, lam0, lam1


def walk(mu: np.ndarray, cov: np.ndarray, r: Resolved, w_start: np.ndarray | None = None,
         max_steps: int | None = None):
    """Yield the path's :class:`Segment` s in increasing λ from λ = 0 (minimum variance).

    ``w_start`` (any guess of the minimum-variance portfolio, e.g. the previous window's, or
    None for "every weight free") only sets the active set the walk starts from; a wrong guess
    is corrected at λ = 0 by zero-length steps, so the points do not depend on it beyond
    rounding. Raises :class:`PathFailed` when the walk cannot continue.
    """
    n = len(mu)
    g_mat, h = _rows(r)
    lb, ub = r.lb, r.ub
    state = np.zeros(n, dtype=int)  # -1 at lower bound, +1 at upper bound, 0 free
    if w_start is None:
        active = np.zeros(len(h), dtype=bool)
    else:
        scale_w = max(1.0, float(np.max(np.abs(w_start))))
        state[np.isfinite(lb) & (w_start - lb <= 1e-7 * scale_w)] = -1
        state[np.isfinite(ub) & (ub - w_start <= 1e-7 * scale_w) & (state == 0)] = 1
        active = (h - g_mat @ w_start <= 1e-7 * scale_w) if len(h) else np.zeros(0, dtype=bool)
    pinned = np.isfinite(lb) & np.isfinite(ub) & (ub - lb <= 1e-12)
    state[pinned] = -1
    lam_cur = 0.0
    protect: int | None = None  # the weight just released may not be re-fixed at zero step
    max_steps = max_steps or 20 * n + 200

    lb_finite, ub_finite = np.isfinite(lb), np.isfinite(ub)
    inv: _Inverse | None = _Inverse(cov, np.where(state == 0)[0])
    if not inv.ok:
        inv = None  # Σ_FF singular (a cash line, duplicated assets): dense KKT solves instead

    def apply(event) -> None:
        nonlocal inv
        kind, i, code = event
        if kind == "fix":
            state[i] = code
            if inv is not None:
                inv.remove(i)
        elif kind == "release":
            state[i] = 0
            if inv is not None:
                inv.add(i)
                if not inv.ok:
                    inv = None
        elif kind == "add":
            active[i] = True
        else:
            active[i] = False

    for step in range(max_steps):
        if inv is not None and step and step % 100 == 0:
            inv.refresh()  # bound the drift of the rank-one updates
            if not inv.ok:
                inv = None
        free = np.asarray(inv.idx, dtype=int) if inv is not None else np.where(state == 0)[0]
        fixed = np.nonzero(state)[0]
        nf = len(free)
        if nf == 0:  # a vertex: every weight at a bound, the path stays here for ever
            w_end = np.where(state < 0, lb, ub)
            if lam_cur == 0.0 or abs(w_end.sum() - r.budget) > 1e-8:
                _give_up(f"no free weights at λ={lam_cur:.4g}")
            zero = np.zeros(len(fixed))
            yield Segment(lam_cur, np.inf, w_end, np.zeros(n), fixed, zero, zero,
                          np.zeros(0, dtype=int), np.zeros(0), np.zeros(0), state.copy(),
                          True, True)
            return
        # an active row that adds nothing on the free weights (it holds through fixed ones, or
        # repeats the budget) would make the system singular: leave it inactive; the
        # inactive-row checks re-add it if it is ever about to break
        if len(active):
            act = _independent_rows(np.where(active)[0], g_mat, free)
            active[:] = False
            active[act] = True
        else:
            act = _NO_ROWS
        # stationarity on the free block: Σ_FF w_F + Cᵀy = r, with C w_F = d (y: multipliers)
        cons, r_mat, d, w_fixed = _system(mu, cov, r, g_mat, h, state, act, free, fixed)
        try:
            if inv is not None:
                m_r = inv.m @ r_mat
                m_ct = inv.m @ cons.T
                y = solve(cons @ m_ct, cons @ m_r - d)
                sol_w = m_r - m_ct @ y
            else:
                sol_w, y = _dense(cov, free, cons, r_mat, d)
        except np.linalg.LinAlgError:
            _give_up(f"singular KKT system at λ={lam_cur:.4g} ({nf} free weights)")
        if not (np.isfinite(sol_w).all() and np.isfinite(y).all()):
            _give_up(f"non-finite KKT solution at λ={lam_cur:.4g}")
        w0, w1, mult0, mult1, lam0, lam1 = _expand(mu, cov, g_mat, n, state, act, free, fixed,
                                                   sol_w, y, w_fixed)

        fix_now = _violations(w0 + lam_cur * w1, free, fixed, act, active, lb, ub, g_mat, h,
                              mult0 + lam_cur * mult1, lam0 + lam_cur * lam1)
        if fix_now is not None:  # the active set is wrong at the current λ: correct it first
            apply(fix_now)
            continue

        floor = lam_cur
        stale = [False]
        best, event = np.inf, None
        wf0, wf1 = w0[free], w1[free]
        down = (wf1 < -1e-14) & lb_finite[free]
        up = (wf1 > 1e-14) & ub_finite[free]
        for mask, bound, code in ((down, lb, -1), (up, ub, 1)):
            if mask.any():
                times = (bound.take(free)[mask] - wf0[mask]) / wf1[mask]
                ids = free[mask]
                if protect is not None:
                    times = np.where(ids == protect, np.maximum(times, lam_cur + 1e-12), times)
                t, i = _first_event(times, ids, floor, stale)
                if t < best:
                    best, event = t, ("fix", i, code)
        if len(fixed):
            mask = mult1 < -1e-14
            if mask.any():
                t, i = _first_event(-mult0[mask] / mult1[mask], fixed[mask], floor, stale)
                if t < best:
                    best, event = t, ("release", i, 0)
        if len(h):
            inactive = np.where(~active)[0]
            if len(inactive):
                s = g_mat[inactive] @ w1
                mask = s > 1e-14
                if mask.any():
                    times = (h[inactive][mask] - g_mat[inactive][mask] @ w0) / s[mask]
                    t, i = _first_event(times, inactive[mask], floor, stale)
                    if t < best:
                        best, event = t, ("add", i, 0)
            if len(act):
                mask = lam1 < -1e-14
                if mask.any():
                    t, i = _first_event(-lam0[mask] / lam1[mask], act[mask], floor, stale)
                    if t < best:
                        best, event = t, ("drop", i, 0)
        yield Segment(lam_cur, best, w0, w1, fixed, mult0, mult1, act, lam0, lam1,
                      state.copy(), stale[0], event is None)
        if event is None:
            return
        apply(event)
        protect = event[1] if event[0] == "release" else None
        lam_cur = best
    _give_up(f"no end after {max_steps} steps (degenerate ties?)")


def _end_return(mu: np.ndarray, seg: Segment) -> float:
    """Highest return on the segment (inf when the last one climbs without limit)."""
    rho0, rho1 = float(mu @ seg.w0), float(mu @ seg.w1)
    if np.isfinite(seg.hi):
        return rho0 + rho1 * seg.hi
    return np.inf if rho1 > 1e-14 else rho0 + max(rho1, 0.0) * seg.lo


def read_targets(mu: np.ndarray, r: Resolved, segments, targets: np.ndarray,
                 start_return: float | None = None) -> np.ndarray:
    """Weights at each increasing target return, each point certified by its KKT conditions.

    ``segments`` is an iterable of :class:`Segment` (a live :func:`walk` or a stored list);
    the first target is snapped to ``start_return`` (the path's start) when within 1e-5.
    """
    n = len(mu)
    g_mat, h = _rows(r)
    out = np.empty((len(targets), n))
    k_next = 0
    for seg in segments:
        if k_next >= len(targets):
            break
        if seg.stale:
            if seg.last:
                break
            continue
        rho0, rho1 = float(mu @ seg.w0), float(mu @ seg.w1)
        r_end = _end_return(mu, seg)
        ts = np.array(targets[k_next:], dtype=float)
        if k_next == 0 and seg.lo == 0.0:
            start = rho0 if start_return is None else start_return
            if abs(ts[0] - start) <= 1e-5 * max(1.0, abs(ts[0])):
                ts[0] = rho0  # the min-variance return, made exact by the path's start
        over = ts > r_end + 1e-9 * np.maximum(1.0, np.abs(ts))
        m = int(np.argmax(over)) if over.any() else len(ts)
        if m:
            ts = ts[:m]
            if rho1 <= 1e-14:
                lam = np.full(m, seg.lo)
            else:
                lam = np.clip((ts - rho0) / rho1, seg.lo, seg.hi)
            w = seg.w0 + lam[:, None] * seg.w1
            if not _certified_many(w, r.lb, r.ub, g_mat, h, r.budget, mu, ts,
                                   seg.mult0 + lam[:, None] * seg.mult1,
                                   seg.row0 + lam[:, None] * seg.row1):
                _give_up(f"KKT certificate failed between targets {ts[0]:.6g} and {ts[-1]:.6g}")
            out[k_next:k_next + m] = w
            k_next += m
        if seg.last:
            break
    if k_next < len(targets):
        _give_up(f"path ended below target {targets[k_next]:.6g}")
    return out


def frontier_path(
    mu: np.ndarray, cov: np.ndarray, r: Resolved, w_start: np.ndarray, targets: np.ndarray,
    max_steps: int | None = None,
) -> np.ndarray:
    """Weights at each increasing target return (the first is μᵀw_start).

    Raises :class:`PathFailed` (with the reason) when the caller should fall back.

    ``w_start`` is the minimum-variance portfolio from a conic solver: it tells which bounds
    and rows are active at λ = 0; a wrong guess is corrected by zero-length steps.
    """
    return read_targets(mu, r, walk(mu, cov, r, w_start, max_steps), targets,
                        start_return=float(mu @ w_start))


def exact(mu: np.ndarray, cov: np.ndarray, r: Resolved, seg: Segment) -> Segment:
    """``seg`` recomputed by one dense KKT solve of its active set.

    The walk's rank-one updates leave rounding that depends on the way it came; a fresh solve
    depends only on (μ, Σ, constraints, active set), so a warm-started walk and a cold one
    give the same numbers (to rounding).
    """
    g_mat, h = _rows(r)
    state, act = seg.state, seg.act
    free, fixed = np.where(state == 0)[0], np.where(state != 0)[0]
    w0, w1, mult0, mult1, lam0, lam1 = _solve_active_set(
        mu, cov, r, g_mat, h, state, act, free, fixed,
        "singular KKT system on the final active set")
    return Segment(seg.lo, seg.hi, w0, w1, fixed, mult0, mult1, act, lam0, lam1, state,
                   seg.stale, seg.last)


def min_variance(mu: np.ndarray, cov: np.ndarray, r: Resolved,
                 w_start: np.ndarray | None = None, *, segments=None, polish: bool = False):
    """(minimum-variance weights, its segment): the path's point at λ = 0, certified.

    ``segments``: a stored path to read (else a walk from ``w_start`` runs until λ = 0 is
    settled). ``polish`` recomputes the segment by :func:`exact`.
    """
    for seg in (segments if segments is not None else walk(mu, cov, r, w_start)):
        if seg.lo != 0.0:
            break
        if seg.stale:
            continue
        if polish:
            seg = exact(mu, cov, r, seg)
        _certify_at(mu, r, seg, 0.0)
        return seg.w0.copy(), seg
    _give_up("the walk left λ = 0 without a clean start")


def _certify_at(mu, r: Resolved, seg: Segment, lam: float, rows=None, point=None) -> None:
    """``rows``: :func:`_rows` of ``r`` when the caller has them; ``point``: the weights at
    ``lam``, their return and multipliers ``(w, μᵀw, bound, row)`` when the caller has them
    (the same arithmetic as here)."""
    g_mat, h = _rows(r) if rows is None else rows
    if point is None:
        w = seg.w0 + lam * seg.w1
        point = (w, float(mu @ w), seg.mult0 + lam * seg.mult1, seg.row0 + lam * seg.row1)
    w, ret, bound_mult, row_mult = point
    if not _certified_one(w, r.lb, r.ub, g_mat, h, r.budget, mu, ret, bound_mult, row_mult):
        _give_up(f"KKT certificate failed at λ={lam:.4g}")


def _peak(mu, cov, seg: Segment, rf: float):
    """(c0, c1): the Sharpe ratio's slope along the segment has the sign of ``c0 + c1·λ``."""
    return _peak_terms(mu, cov, seg.w0, seg.w1, rf)


def _peak_terms(mu, cov, w0, w1, rf: float):
    """:func:`_peak` of the segment ``w0 + λ·w1``."""
    a0, a1 = float(mu @ w0) - rf, float(mu @ w1)
    s0, s1 = cov @ w0, cov @ w1
    v0, v1, v2 = float(w0 @ s0), float(w0 @ s1), float(w1 @ s1)
    return a1 * v0 - a0 * v1, a1 * v1 - a0 * v2


def settle(mu: np.ndarray, cov: np.ndarray, r: Resolved, state: np.ndarray,
           active: np.ndarray | None = None, *, lam: float | None = 0.0, rf: float = 0.0,
           max_iter: int | None = None, batch: bool = True, rows=None):
    """The path's point at ``lam`` (or, ``lam=None``, at its Sharpe peak) from a guessed
    active set, without walking: solve the guess, fix or release the broken conditions,
    repeat. Returns (weights, segment of the final active set).

    A guess from a neighbouring problem (yesterday's window) is usually right or one step
    away; a month's move often breaks several bounds at once, so each iterate fixes every
    weight past its bound and releases every fixed weight whose multiplier has the wrong sign
    (a primal-dual active-set step: half the solves of one change at a time). Where that
    cycles or lands on a set the peak search cannot use, it steps back and changes the worst
    broken condition only, one at a time (general rows always so). Every iterate is one dense
    KKT solve of its active set, so the answer depends only on the final active set, as
    :func:`exact` does. Raises :class:`PathFailed` when the guesses do not settle (ties, or the
    peak lies where this cannot find it): the caller walks instead. ``batch=False``: one
    change at a time throughout (the settle before issue 13 item 3, kept for comparison).
    ``rows``: :func:`_rows` of ``r`` when the caller has them.
    """
    n = len(mu)
    g_mat, h = _rows(r) if rows is None else rows
    lb, ub = r.lb, r.ub
    state = state.copy()
    active = np.zeros(len(h), dtype=bool) if active is None else active.copy()
    seen: set[bytes] = set()
    back = None  # (state, active, worst event) before the last many-change step
    for _ in range(max_iter or 4 * n + 20):
        free, fixed = np.where(state == 0)[0], np.nonzero(state)[0]
        try:
            w, ret, seg, at = _settle_step(mu, cov, r, g_mat, h, state, active, free, fixed,
                                           lam, rf)
        except PathFailed:
            if back is None:
                raise
            state, active, event = back  # the many-change step overshot: one change instead
            back, batch = None, False
            _apply(state, active, event)
            continue
        bound_mult, row_mult = seg.mult0 + at * seg.mult1, seg.row0 + at * seg.row1
        w_free = w.take(free)
        gaps = lb.take(free) - w_free, w_free - ub.take(free)  # below lb, above ub
        event = _violations(w, free, fixed, seg.act, active, lb, ub, g_mat, h, bound_mult,
                            row_mult, gaps)
        if event is None:
            _certify_at(mu, r, seg, at, (g_mat, h),
                        (w, float(mu @ w) if ret is None else ret, bound_mult, row_mult))
            return w, seg
        back = None
        if batch:
            key = state.tobytes() + active.tobytes()
            batch = key not in seen
            seen.add(key)
        if batch and event[0] in ("fix", "release"):
            changes = _bound_changes(w, free, fixed, lb, ub, bound_mult, gaps)
            if len(changes) > 1:
                back = (state.copy(), active.copy(), event)
                for i, code in changes:
                    state[i] = code
                continue
        _apply(state, active, event)
    _give_up("the active set did not settle")


def below_rf(mu: np.ndarray, r: Resolved, rf: float) -> bool:
    """True when no weights within the budget and the bounds return more than ``rf`` (by a
    margin far above rounding): max Sharpe is then undefined, which :func:`max_sharpe` finds
    only after walking the whole path. The highest return fills the best assets to their caps
    from their floors; with general rows or an unbounded weight this says False (ask the path).
    """
    lb, ub = r.lb, r.ub
    if len(_rows(r)[1]) or not (np.isfinite(lb).all() and np.isfinite(ub).all()):
        return False
    room = r.budget - float(lb.sum())
    order = np.argsort(-mu, kind="stable")
    caps = (ub - lb).take(order)
    filled = np.cumsum(caps)
    if room < 0 or filled[-1] < room - 1e-12:
        return False  # no weights meet the budget within the bounds: let the path say so
    # each asset in turn takes what its cap and the budget still left allow
    take = np.clip(room - (filled - caps), 0.0, caps)
    best = float(mu @ lb) + float(mu.take(order) @ take)
    return best < rf - 1e-9 * max(1.0, abs(rf), float(np.abs(mu).max()))


def peak_lambda(mu, cov, seg: Segment, rf: float) -> float | None:
    """The λ of ``seg``'s Sharpe peak, at least 0 (None where it has none: a vertex, a flat
    segment): where :func:`settle` stops, and where :class:`~autoport.optimize.warm.WarmPath`
    restarts a failed settle from."""
    c0, c1 = _peak(mu, cov, seg, rf)
    return max(-c0 / c1, 0.0) if c1 < 0 else None


def _settle_step(mu, cov, r, g_mat, h, state, active, free, fixed, lam, rf):
    """One iterate of :func:`settle`: (weights at ``lam`` or the peak, their return at the
    peak (None at a given ``lam``), segment, its λ)."""
    if len(free) == 0:
        _give_up("no free weights")
    if len(active):
        act = _independent_rows(np.where(active)[0], g_mat, free)
        active[:] = False
        active[act] = True
    else:  # no general rows (bounds only): nothing to choose
        act = _NO_ROWS
    w0, w1, mult0, mult1, lam0, lam1 = _solve_active_set(
        mu, cov, r, g_mat, h, state, act, free, fixed, "singular KKT system")
    if lam is not None:
        seg = Segment(0.0, np.inf, w0, w1, fixed, mult0, mult1, act, lam0, lam1,
                      state.copy(), False, False)
        return w0 + lam * w1, None, seg, lam
    c0, c1 = _peak_terms(mu, cov, w0, w1, rf)
    at = max(-c0 / c1, 0.0) if c1 < 0 else None  # peak_lambda's
    seg = Segment(0.0, np.inf, w0, w1, fixed, mult0, mult1, act, lam0, lam1, state.copy(),
                  False, False, at)
    if at is None:
        _give_up("no Sharpe peak on this active set")
    w = w0 + at * w1
    ret = float(mu @ w)
    if ret - rf <= 0:
        _give_up("the peak does not beat the risk-free rate")
    return w, ret, seg, at


def _apply(state, active, event) -> None:
    kind, i, code = event
    if kind == "fix":
        state[i] = code
    elif kind == "release":
        state[i] = 0
    else:
        active[i] = kind == "add"


def _bound_changes(w, free, fixed, lb, ub, bound_mult, gaps=None) -> list[tuple[int, int]]:
    """Every bound :func:`_violations` would act on, as (weight, new state): the free weights
    past a bound and the fixed ones whose multiplier is negative, at its thresholds.
    ``gaps``: ``(lb[free] − w[free], w[free] − ub[free])`` when the caller has them."""
    below, above = (lb[free] - w[free], w[free] - ub[free]) if gaps is None else gaps
    out = [(int(i), -1) for i in free[below > 1e-10]]
    out += [(int(i), 1) for i in free[above > 1e-10]]
    if len(fixed):
        size = max(1.0, float(np.abs(bound_mult).max()))
        out += [(int(i), 0) for i in fixed[-bound_mult > 1e-10 * size]]
    return out


def active_rows(r: Resolved, seg: Segment, rows=None) -> np.ndarray:
    """The segment's active general rows (groups, ESG floor) as the mask :func:`settle` takes:
    a warm start needs them beside ``seg.state``, or a binding group limit is first dropped and
    the guess can lose its Sharpe peak before the limit is added back. ``rows``: :func:`_rows`
    of ``r`` when the caller has them."""
    mask = np.zeros(len((_rows(r) if rows is None else rows)[1]), dtype=bool)
    mask[np.asarray(seg.act, dtype=int)] = True
    return mask


def _sharpe_on(mu, cov, seg: Segment, rf: float):
    """(best Sharpe ratio on the segment, its λ, whether the peak is inside the segment).

    On a segment ``e(λ) = a0 + a1·λ − rf`` and ``v(λ) = v0 + 2·v1·λ + v2·λ²``; the derivative
    of ``e/√v`` has the sign of ``(a1·v0 − a0'·v1) + λ·(a1·v1 − a0'·v2)``, linear in λ, so the
    peak is one division. The Sharpe ratio is unimodal along the efficient frontier (the
    frontier is concave in (σ, return)), so the first segment whose end slopes down holds it.
    """
    a0, a1 = float(mu @ seg.w0) - rf, float(mu @ seg.w1)
    s0, s1 = cov @ seg.w0, cov @ seg.w1
    v0, v1, v2 = float(seg.w0 @ s0), float(seg.w0 @ s1), float(seg.w1 @ s1)
    c0, c1 = a1 * v0 - a0 * v1, a1 * v1 - a0 * v2  # :func:`_peak`'s, from the same numbers
    hi = seg.hi if np.isfinite(seg.hi) else (seg.lo if abs(a1) <= 1e-14 else np.inf)
    cands = [seg.lo]
    if np.isfinite(hi):
        cands.append(hi)
    if c1 < 0 and -c0 / c1 > seg.lo:
        cands.append(min(-c0 / c1, hi))
    best, at = -np.inf, seg.lo
    for lam in cands:
        v = v0 + 2 * v1 * lam + v2 * lam * lam
        e = a0 + a1 * lam
        if v <= 1e-300:
            if e > 0:
                _give_up("a riskless portfolio beats the risk-free rate: Sharpe is unbounded")
            continue
        f = e / np.sqrt(v)
        if f > best:
            best, at = f, lam
    if not np.isfinite(seg.hi):
        return best, at, True
    # a segment along which the weights do not move (one free weight, held by the budget;
    # λ only runs until a multiplier changes sign) is flat in Sharpe: it says nothing
    moving = float(np.max(np.abs(seg.w1))) > 1e-12 * max(1.0, float(np.max(np.abs(seg.w0))))
    return best, at, moving and c0 + c1 * hi < 0


def max_sharpe(mu: np.ndarray, cov: np.ndarray, r: Resolved, rf: float,
               w_start: np.ndarray | None = None, segments=None, *, polish: bool = False):
    """(tangency weights, their segment) on the path, or None when no point beats ``rf``.

    ``segments``: a stored path to read (else the walk runs, from ``w_start``, until the
    Sharpe ratio peaks). ``polish`` recomputes the chosen segment by :func:`exact`.
    """
    best, choice = -np.inf, None
    for seg in (segments if segments is not None else walk(mu, cov, r, w_start)):
        if not seg.stale:
            f, lam, peaked = _sharpe_on(mu, cov, seg, rf)
            if f > best:
                best, choice = f, (seg, lam)
            if peaked:
                break
        if seg.last:
            break
    if choice is None or best <= 0:
        return None
    seg, lam = choice
    if polish:
        seg = exact(mu, cov, r, seg)
        c0, c1 = _peak(mu, cov, seg, rf)
        if c1 < 0 and seg.lo < -c0 / c1 < seg.hi:
            lam = max(-c0 / c1, 0.0)  # the same arithmetic as :func:`settle`
    _certify_at(mu, r, seg, lam)
    return seg.w0 + lam * seg.w1, seg


def trace(mu: np.ndarray, cov: np.ndarray, r: Resolved, w_start: np.ndarray | None = None):
    """The whole path as a list of segments (walked to its end)."""
    return list(walk(mu, cov, r, w_start))


def _independent_rows(rows: np.ndarray, g_mat: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Rows of ``g_mat`` (restricted to ``free``) independent of the budget row and each other."""
    if len(rows) == 0:
        return rows
    basis = [np.ones(len(free)) / np.sqrt(len(free))]
    keep = []
    for k in rows:
        v = g_mat[k, free].astype(float)
        norm = np.linalg.norm(v)
        if norm < 1e-12:
            continue
        for b in basis:
            v = v - (v @ b) * b
        if np.linalg.norm(v) > 1e-9 * norm:
            basis.append(v / np.linalg.norm(v))
            keep.append(k)
    return np.asarray(keep, dtype=int)


class _Inverse:
    """Σ_FF⁻¹ for the free set F, kept by rank-one updates as weights enter and leave."""

    def __init__(self, cov: np.ndarray, free: np.ndarray) -> None:
        self.cov = cov
        self.idx = [int(i) for i in free]
        self.ok = True
        self.refresh()

    def refresh(self) -> None:
        if not self.idx:
            self.m = np.zeros((0, 0))
            return
        block = self.cov[np.ix_(self.idx, self.idx)]
        try:
            chol = np.linalg.cholesky(block)
        except np.linalg.LinAlgError:
            self.ok = False
            return
        inv_l = np.linalg.inv(chol)
        self.m = inv_l.T @ inv_l

    def remove(self, i: int) -> None:
        p = self.idx.index(i)
        col = self.m[:, p].copy()
        self.m = self.m - np.outer(col, col) / col[p]
        keep = np.arange(len(self.idx) - 1)
        keep[p:] += 1  # every index but p
        self.m = self.m.take(keep, axis=0).take(keep, axis=1)  # m[ix_(keep, keep)], cheaper
        del self.idx[p]

    def add(self, j: int) -> None:
        u = self.cov[self.idx, j]
        mu_ = self.m @ u
        schur = self.cov[j, j] - u @ mu_
        if schur <= 1e-14 * max(self.cov[j, j], 1e-300):
            self.ok = False
            return
        k = len(self.idx)
        new = np.empty((k + 1, k + 1))
        new[:k, :k] = self.m + np.outer(mu_, mu_) / schur
        new[:k, k] = new[k, :k] = -mu_ / schur
        new[k, k] = 1.0 / schur
        self.m = new
        self.idx.append(j)


def _violations(w, free, fixed, act, active, lb, ub, g_mat, h, bound_mult, row_mult,
                gaps=None):
    """The worst broken condition at the current λ as an event, or None when all hold.
    ``gaps``: ``(lb[free] − w[free], w[free] − ub[free])`` when the caller has them."""
    worst, event = 1e-10, None
    if len(free):
        if gaps is None:
            w_free = w[free]
            gaps = lb[free] - w_free, w_free - ub[free]
        below, above = gaps
        j = int(below.argmax())
        if below[j] > worst:
            worst, event = below[j], ("fix", int(free[j]), -1)
        j = int(above.argmax())
        if above[j] > worst:
            worst, event = above[j], ("fix", int(free[j]), 1)
    inactive = np.where(~active)[0] if len(active) else active
    if len(inactive):
        excess = g_mat[inactive] @ w - h[inactive]
        j = int(np.argmax(excess))
        if excess[j] > worst:
            worst, event = excess[j], ("add", int(inactive[j]), 0)
    size = max(1.0, float(np.abs(bound_mult).max())) if len(bound_mult) else 1.0
    if len(fixed):
        j = int(bound_mult.argmin())
        if -bound_mult[j] > max(worst, 1e-10 * size):
            worst, event = -bound_mult[j], ("release", int(fixed[j]), 0)
    if len(act):
        j = int(np.argmin(row_mult))
        if -row_mult[j] > max(worst, 1e-10 * size):
            worst, event = -row_mult[j], ("drop", int(act[j]), 0)
    return event


def _certified_one(w, lb, ub, g_mat, h, budget, mu, t, bound_mult, row_mult) -> bool:
    """:func:`_certified_many` at one point (1-d arrays): the same checks and thresholds,
    without the batch axis's temporaries (every settle ends with one)."""
    tol = 1e-8
    if (w < lb - tol).any() or (w > ub + tol).any():
        return False
    if abs(w.sum() - budget) > tol:
        return False
    if abs(float(w @ mu) - t) > 1e-7 * max(1.0, abs(t)):
        return False
    if len(h) and (g_mat @ w > h + tol).any():
        return False
    size = max(1.0, float(np.abs(bound_mult).max())) if len(bound_mult) else 1.0
    if len(bound_mult) and (bound_mult < -1e-7 * size).any():
        return False
    return not (len(row_mult) and (row_mult < -1e-7 * size).any())


def _certified_many(w, lb, ub, g_mat, h, budget, mu, t, bound_mult, row_mult) -> bool:
    """KKT check at points (rows of ``w``): feasibility, the targets and multiplier signs."""
    tol = 1e-8
    if (w < lb - tol).any() or (w > ub + tol).any():
        return False
    if (np.abs(w.sum(axis=1) - budget) > tol).any():
        return False
    if (np.abs(w @ mu - t) > 1e-7 * np.maximum(1.0, np.abs(t))).any():
        return False
    if len(h) and (w @ g_mat.T > h + tol).any():
        return False
    if bound_mult.shape[1]:
        size = np.maximum(1.0, np.abs(bound_mult).max(axis=1))
        if (bound_mult < -1e-7 * size[:, None]).any():
            return False
    else:
        size = np.ones(len(w))
    return not (row_mult.shape[1] and (row_mult < -1e-7 * size[:, None]).any())
