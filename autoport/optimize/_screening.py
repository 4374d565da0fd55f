"""Max Sharpe on many assets by a working set: solve on candidates, prove the rest stay at zero.

A long-only tangency portfolio of 1000 assets holds a few hundred of them. The homogenised
problem (Cornuejols-Tütüncü)

    min yᵀΣy  s.t.  (μ − rf)ᵀy ≥ 1 [γ],  1ᵀy = bκ [β],  0 ≤ y ≤ ub·κ,  G y ≤ h·κ [λ],  κ ≥ 0

is solved on a candidate set S. For an asset j outside S (held at y_j = 0) the multiplier of
``y_j ≥ 0`` must be non-negative for the solution to be optimal on all assets:

    d_j = 2(Σy)_j − γ(μ_j − rf) + β + λᵀG_j ≥ 0.

Assets with d_j < 0 join S and the problem is solved again. When no asset violates, the KKT
conditions of the full problem hold: the answer is the full problem's, at a fraction of the cost
of a dense 1000 × 1000 solve. Used only for linear constraints with zero lower bounds.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from autoport._blas import single_threaded_blas
from autoport.optimize import solvers
from autoport.optimize._homotopy import _rows
from autoport.optimize.constraints import Resolved

MIN_ASSETS = 300  # below this a direct solve is as fast


def eligible(r: Resolved) -> bool:
    return (
        r.n >= MIN_ASSETS and r.max_turnover is None and r.max_leverage is None
        and not r.has_costs and bool(np.all(r.lb == 0.0)) and bool(np.all(np.isfinite(r.ub)))
        and r.budget > 0
    )


def _initial(excess: np.ndarray, cov: np.ndarray, r: Resolved, g_mat, h) -> set[int]:
    n = len(excess)
    sd = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    score = np.where(r.ub > 0, excess / sd, -np.inf)
    cap = max(float(np.min(r.ub[r.ub > 0])), 1e-6)
    m0 = int(min(n, max(60, np.ceil(2.0 * r.budget / cap))))
    chosen = set(np.argsort(-score)[:m0].tolist())
    # enough room in every group with a floor (rows with negative entries are floors)
    for k in range(len(h)):
        row = g_mat[k]
        if np.all(row <= 0) and h[k] < 0:
            members = np.where(row < 0)[0]
            need = -h[k] * 1.5
            order = members[np.argsort(-score[members])]
            room = sum(r.ub[i] for i in chosen if row[i] < 0)
            for i in order:
                if room >= need:
                    break
                if i not in chosen:
                    chosen.add(int(i))
                    room += r.ub[i]
    return {i for i in chosen if r.ub[i] > 0}


def max_sharpe(mu: np.ndarray, cov: np.ndarray, r: Resolved, rf: float, chain,
               max_rounds: int = 12):
    """(weights, report, working-set size) or None when the caller should solve directly."""
    excess = mu - rf
    if excess.max() <= 0:
        return None
    g_mat, h = _rows(r)
    work = _initial(excess, cov, r, g_mat, h)
    for _ in range(max_rounds):
        idx = np.array(sorted(work))
        y = cp.Variable(len(idx))
        kappa = cp.Variable(nonneg=True)
        c_ret = excess[idx] @ y >= 1
        c_bud = cp.sum(y) == r.budget * kappa
        cons = [c_ret, c_bud, y >= 0, y <= r.ub[idx] * kappa]
        c_rows = None
        if len(h):
            c_rows = g_mat[:, idx] @ y <= h * kappa
            cons.append(c_rows)
        prob = cp.Problem(cp.Minimize(cp.quad_form(y, cp.psd_wrap(cov[np.ix_(idx, idx)]))), cons)
        report = solvers.solve(prob, chain, large=len(idx) >= 200)
        if report.status != cp.OPTIMAL or y.value is None or kappa.value is None:
            if len(work) >= r.n:
                return None
            work |= set(range(r.n))  # too few candidates to be feasible: widen and retry
            work = {i for i in work if r.ub[i] > 0}
            continue
        yv = np.zeros(r.n)
        yv[idx] = y.value
        gamma = float(c_ret.dual_value)
        beta = float(c_bud.dual_value)
        lam = np.atleast_1d(c_rows.dual_value) if c_rows is not None else np.zeros(0)
        with single_threaded_blas(r.n):
            reduced = 2 * cov @ yv - gamma * excess + beta
        if len(lam):
            reduced = reduced + g_mat.T @ lam
        outside = np.array([i for i in range(r.n) if i not in work and r.ub[i] > 0], dtype=int)
        if len(outside) == 0:
            return yv / kappa.value, report, len(idx)
        scale = max(1.0, abs(gamma) * float(np.max(np.abs(excess))))
        bad = outside[reduced[outside] < -1e-7 * scale]
        if len(bad) == 0:
            return yv / kappa.value, report, len(idx)
        worst = bad[np.argsort(reduced[bad])][: max(25, len(bad) // 2)]
        work |= set(worst.tolist())
    return None
