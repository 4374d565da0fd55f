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

import numpy as np

from autoport.optimize.constraints import Resolved

TOL = 1e-9


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
    if np.min(times) < floor - 1e-12 * max(1.0, abs(floor)):
        stale[0] = True
    times = np.maximum(times, floor)
    j = int(np.argmin(times))
    return float(times[j]), int(ids[j])


def frontier_path(
    mu: np.ndarray, cov: np.ndarray, r: Resolved, w_start: np.ndarray, targets: np.ndarray,
    max_steps: int | None = None,
) -> np.ndarray:
    """Weights at each increasing target return (the first is μᵀw_start).

    Raises :class:`PathFailed` (with the reason) when the caller should fall back.

    ``w_start`` is the minimum-variance portfolio from a conic solver: it tells which bounds
    and rows are active at λ = 0; a wrong guess is corrected by zero-length steps.
    """
    n = len(mu)
    g_mat, h = _rows(r)
    lb, ub = r.lb, r.ub
    scale_w = max(1.0, float(np.max(np.abs(w_start))))
    state = np.zeros(n, dtype=int)  # -1 at lower bound, +1 at upper bound, 0 free
    state[np.isfinite(lb) & (w_start - lb <= 1e-7 * scale_w)] = -1
    state[np.isfinite(ub) & (ub - w_start <= 1e-7 * scale_w) & (state == 0)] = 1
    pinned = np.isfinite(lb) & np.isfinite(ub) & (ub - lb <= 1e-12)
    state[pinned] = -1
    active = (h - g_mat @ w_start <= 1e-7 * scale_w) if len(h) else np.zeros(0, dtype=bool)
    out = np.empty((len(targets), n))
    k_next = 0
    lam_cur = 0.0
    protect: int | None = None  # the weight just released may not be re-fixed at zero step
    max_steps = max_steps or 20 * n + 200
    ones = np.ones(n)

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
        fixed = np.where(state != 0)[0]
        w_fixed = np.where(state[fixed] < 0, lb[fixed], ub[fixed])
        nf = len(free)
        if nf == 0:
            _give_up(f"no free weights at λ={lam_cur:.4g}")
        # an active row that adds nothing on the free weights (it holds through fixed ones, or
        # repeats the budget) would make the system singular: leave it inactive; the
        # inactive-row checks re-add it if it is ever about to break
        act = _independent_rows(np.where(active)[0], g_mat, free)
        active[:] = False
        active[act] = True
        # stationarity on the free block: Σ_FF w_F + Cᵀy = r, with C w_F = d (y: multipliers)
        cons = np.vstack([ones[free][None, :], g_mat[np.ix_(act, free)]])
        r_mat = np.empty((nf, 2))  # columns: constant part, coefficient of λ
        r_mat[:, 0] = -cov[np.ix_(free, fixed)] @ w_fixed if len(fixed) else 0.0
        r_mat[:, 1] = mu[free]
        d = np.zeros((cons.shape[0], 2))
        d[0, 0] = r.budget - w_fixed.sum()
        if len(act):
            d[1:, 0] = h[act] - g_mat[np.ix_(act, fixed)] @ w_fixed
        try:
            if inv is not None:
                m_r = inv.m @ r_mat
                m_ct = inv.m @ cons.T
                y = np.linalg.solve(cons @ m_ct, cons @ m_r - d)
                sol_w = m_r - m_ct @ y
            else:
                mc = cons.shape[0]
                kkt = np.zeros((nf + mc, nf + mc))
                kkt[:nf, :nf] = cov[np.ix_(free, free)]
                kkt[:nf, nf:] = cons.T
                kkt[nf:, :nf] = cons
                sol = np.linalg.solve(kkt, np.vstack([r_mat, d]))
                sol_w, y = sol[:nf], sol[nf:]
        except np.linalg.LinAlgError:
            _give_up(f"singular KKT system at λ={lam_cur:.4g} ({nf} free weights)")
        if not (np.all(np.isfinite(sol_w)) and np.all(np.isfinite(y))):
            _give_up(f"non-finite KKT solution at λ={lam_cur:.4g}")
        w0, w1 = np.zeros(n), np.zeros(n)
        w0[free], w1[free] = sol_w[:, 0], sol_w[:, 1]
        w0[fixed] = w_fixed
        nu0, nu1 = y[0, 0], y[0, 1]
        lam0, lam1 = y[1:, 0], y[1:, 1]
        # gradient of the Lagrangian at fixed weights; its signed value is the bound multiplier
        grad0 = cov[fixed] @ w0 + nu0
        grad1 = cov[fixed] @ w1 - mu[fixed] + nu1
        if len(act):
            grad0 = grad0 + g_mat[np.ix_(act, fixed)].T @ lam0
            grad1 = grad1 + g_mat[np.ix_(act, fixed)].T @ lam1
        sign = -state[fixed].astype(float)  # at lb the multiplier is grad, at ub it is −grad

        fix_now = _violations(w0 + lam_cur * w1, free, fixed, act, active, lb, ub, g_mat, h,
                              sign * (grad0 + lam_cur * grad1), lam0 + lam_cur * lam1)
        if fix_now is not None:  # the active set is wrong at the current λ: correct it first
            apply(fix_now)
            continue

        floor = lam_cur
        stale = [False]
        best, event = np.inf, None
        wf0, wf1 = w0[free], w1[free]
        down = (wf1 < -1e-14) & np.isfinite(lb[free])
        up = (wf1 > 1e-14) & np.isfinite(ub[free])
        for mask, bound, code in ((down, lb, -1), (up, ub, 1)):
            if mask.any():
                times = (bound[free][mask] - wf0[mask]) / wf1[mask]
                ids = free[mask]
                if protect is not None:
                    times = np.where(ids == protect, np.maximum(times, lam_cur + 1e-12), times)
                t, i = _first_event(times, ids, floor, stale)
                if t < best:
                    best, event = t, ("fix", i, code)
        if len(fixed):
            s1 = sign * grad1
            mask = s1 < -1e-14
            if mask.any():
                t, i = _first_event(-(sign * grad0)[mask] / s1[mask], fixed[mask], floor, stale)
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

        # targets whose return is reached on [lam_cur, best] lie on this segment
        rho0, rho1 = float(mu @ w0), float(mu @ w1)
        r_end = rho0 + rho1 * best if np.isfinite(best) else (np.inf if rho1 > 1e-14 else rho0)
        while not stale[0] and k_next < len(targets):
            t = float(targets[k_next])
            tol_t = 1e-9 * max(1.0, abs(t))
            start = rho0 + rho1 * lam_cur
            if k_next == 0 and lam_cur == 0.0 and abs(t - start) <= 1e-5 * max(1.0, abs(t)):
                t = start  # the conic min-variance return, made exact by the path's start
            if t > r_end + tol_t:
                break
            lam_t = lam_cur if rho1 <= 1e-14 else min(max((t - rho0) / rho1, lam_cur), best)
            w = w0 + lam_t * w1
            if not _certified(w, lb, ub, g_mat, h, r.budget, mu, t,
                              sign * (grad0 + lam_t * grad1), lam0 + lam_t * lam1):
                _give_up(f"KKT certificate failed at target {t:.6g} (λ={lam_t:.4g})")
            out[k_next] = w
            k_next += 1
        if k_next >= len(targets):
            return out
        if event is None:
            _give_up(f"path ended at return {r_end:.6g} below target {targets[k_next]:.6g}")
        apply(event)
        protect = event[1] if event[0] == "release" else None
        lam_cur = best
    _give_up(f"no end after {max_steps} steps (degenerate ties?)")


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
        keep = np.arange(len(self.idx)) != p
        self.m = self.m[np.ix_(keep, keep)]
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


def _violations(w, free, fixed, act, active, lb, ub, g_mat, h, bound_mult, row_mult):
    """The worst broken condition at the current λ as an event, or None when all hold."""
    worst, event = 1e-10, None
    if len(free):
        below = lb[free] - w[free]
        above = w[free] - ub[free]
        j = int(np.argmax(below))
        if below[j] > worst:
            worst, event = below[j], ("fix", int(free[j]), -1)
        j = int(np.argmax(above))
        if above[j] > worst:
            worst, event = above[j], ("fix", int(free[j]), 1)
    inactive = np.where(~active)[0]
    if len(inactive):
        excess = g_mat[inactive] @ w - h[inactive]
        j = int(np.argmax(excess))
        if excess[j] > worst:
            worst, event = excess[j], ("add", int(inactive[j]), 0)
    size = max(1.0, float(np.max(np.abs(bound_mult)))) if len(bound_mult) else 1.0
    if len(fixed):
        j = int(np.argmin(bound_mult))
        if -bound_mult[j] > max(worst, 1e-10 * size):
            worst, event = -bound_mult[j], ("release", int(fixed[j]), 0)
    if len(act):
        j = int(np.argmin(row_mult))
        if -row_mult[j] > max(worst, 1e-10 * size):
            worst, event = -row_mult[j], ("drop", int(act[j]), 0)
    return event


def _certified(w, lb, ub, g_mat, h, budget, mu, t, bound_mult, row_mult) -> bool:
    """KKT check at one point: feasibility, the target and multiplier signs."""
    tol = 1e-8
    if np.any(w < lb - tol) or np.any(w > ub + tol):
        return False
    if abs(w.sum() - budget) > tol or abs(mu @ w - t) > 1e-7 * max(1.0, abs(t)):
        return False
    if len(h) and np.any(g_mat @ w > h + tol):
        return False
    size = max(1.0, float(np.max(np.abs(bound_mult)))) if len(bound_mult) else 1.0
    if len(bound_mult) and np.any(bound_mult < -1e-7 * size):
        return False
    return not (len(row_mult) and np.any(row_mult < -1e-7 * size))
