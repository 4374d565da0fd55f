"""The KKT pieces of one active set are the same floats as the plain formulation they replaced.

`_system`, `_dense` and `_expand` take Σ's free rows once and build the blocks with ``take``;
the reference below is the earlier code (``np.ix_`` blocks, ``vstack``, ``concatenate``), written
out here, on drawn problems with group rows and every kind of active set. Equal bits, not a
tolerance: the warm path's weights must not move by a rounding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport.optimize import Constraints, _homotopy
from autoport.optimize.objectives import prepare


def _reference(mu, cov, r, g_mat, h, state, act, free, fixed):
    lb, ub = r.lb, r.ub
    ix = np.ix_
    w_fixed = np.where(state[fixed] < 0, lb[fixed], ub[fixed])
    nf = len(free)
    cons = np.vstack([np.ones((1, nf)), g_mat[ix(act, free)]]) if len(act) else np.ones((1, nf))
    r_mat = np.empty((nf, 2))
    r_mat[:, 0] = -cov[ix(free, fixed)] @ w_fixed if len(fixed) else 0.0
    r_mat[:, 1] = mu[free]
    d = np.zeros((cons.shape[0], 2))
    d[0, 0] = r.budget - w_fixed.sum()
    if len(act):
        d[1:, 0] = h[act] - g_mat[ix(act, fixed)] @ w_fixed
    mc = cons.shape[0]
    kkt = np.zeros((nf + mc, nf + mc))
    kkt[:nf, :nf] = cov[ix(free, free)]
    kkt[:nf, nf:] = cons.T
    kkt[nf:, :nf] = cons
    sol = np.linalg.solve(kkt, np.concatenate((r_mat, d)))
    sol_w, y = sol[:nf], sol[nf:]
    n = len(mu)
    w0, w1 = np.zeros(n), np.zeros(n)
    w0[free], w1[free] = sol_w[:, 0], sol_w[:, 1]
    w0[fixed] = w_fixed
    grad0 = cov[fixed] @ w0 + y[0, 0]
    grad1 = cov[fixed] @ w1 - mu[fixed] + y[0, 1]
    if len(act):
        grad0 = grad0 + g_mat[ix(act, fixed)].T @ y[1:, 0]
        grad1 = grad1 + g_mat[ix(act, fixed)].T @ y[1:, 1]
    sign = -state[fixed].astype(float)
    return w0, w1, sign * grad0, sign * grad1, y[1:, 0], y[1:, 1]


def _problem(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    cov = a @ a.T / n * 0.05 + np.diag(rng.uniform(0.005, 0.05, n))
    mu = rng.uniform(-0.05, 0.25, n)
    t = [f"X{i}" for i in range(n)]
    cons = Constraints(max_position=0.3, groups={x: f"g{i % 3}" for i, x in enumerate(t)},
                       group_max={"g0": 0.5, "g1": 0.45}, group_min={"g2": 0.1})
    return prepare(pd.Series(mu, index=t), pd.DataFrame(cov, index=t, columns=t), cons), rng


@pytest.mark.parametrize("seed", range(6))
def test_kkt_pieces_equal_the_ix_formulation_bit_for_bit(seed):
    p, rng = _problem(12, seed)
    g_mat, h = _homotopy._rows(p.r)
    assert len(h) == 3
    checked = 0
    for _ in range(40):
        state = rng.choice([-1, 0, 0, 0, 1], size=12)
        if not (state == 0).any():
            continue
        act = np.flatnonzero(rng.random(len(h)) < 0.5)
        free, fixed = np.where(state == 0)[0], np.where(state != 0)[0]
        act = _homotopy._independent_rows(act, g_mat, free)
        try:
            want = _reference(p.mu, p.cov, p.r, g_mat, h, state, act, free, fixed)
        except np.linalg.LinAlgError:
            continue
        got = _homotopy._solve_active_set(p.mu, p.cov, p.r, g_mat, h, state, act, free,
                                          fixed, "singular")
        for a, b in zip(got, want):
            assert a.tobytes() == b.tobytes()
        checked += 1
    assert checked >= 20
