"""A warm start carries the general rows (group limits) it held, not only the weights' bounds.

The draw below (found by hypothesis in test_optimize_properties) has its tangency on a segment
where the group limit g1 <= 0.5625 binds. Started from that segment's bounds alone, settle first
drops the limit, finds no Sharpe peak on the wider set and gives up, so every warm-started max
Sharpe on such a window fell back to walking the whole path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport.optimize import Constraints, _homotopy
from autoport.optimize.objectives import prepare
from autoport.optimize.warm import WarmPath


def _draw():
    # test_optimize_properties.problems() with n=3, seed=26, cap 0.5763..., g1 cap 0.5625
    n, rng = 3, np.random.default_rng(26)
    a = rng.normal(size=(n, n))
    cov = a @ a.T / n * 0.05 + np.diag(rng.uniform(0.005, 0.05, n))
    mu = rng.uniform(-0.05, 0.25, n)
    t = [f"X{i}" for i in range(n)]
    cons = Constraints(max_position=0.5763218390804598,
                       groups={x: ("g1" if i % 2 else "g2") for i, x in enumerate(t)},
                       group_max={"g1": 0.5625})
    return prepare(pd.Series(mu, index=t), pd.DataFrame(cov, index=t, columns=t), cons)


def test_the_tangency_settles_from_its_own_active_set_only_with_its_rows():
    p = _draw()
    w_tan, seg = _homotopy.max_sharpe(p.mu, p.cov, p.r, 0.0)
    assert len(seg.act) == 1  # the group limit binds at the tangency
    with pytest.raises(_homotopy.PathFailed, match="no Sharpe peak"):
        _homotopy.settle(p.mu, p.cov, p.r, seg.state, lam=None)
    w, _ = _homotopy.settle(p.mu, p.cov, p.r, seg.state, _homotopy.active_rows(p.r, seg),
                            lam=None)
    np.testing.assert_allclose(w, w_tan, atol=1e-12)


def test_a_warm_path_settles_the_second_solve_without_walking(monkeypatch):
    p = _draw()
    path = WarmPath(p.r)
    first = path.solve(p.mu, p.cov)
    walks = []
    real = _homotopy.max_sharpe
    monkeypatch.setattr(_homotopy, "max_sharpe",
                        lambda *a, **k: walks.append(1) or real(*a, **k))
    second = path.solve(p.mu * 1.001, p.cov)  # the next window: a neighbouring problem
    assert walks == []  # settled from the held active set, no walk
    again, _ = real(p.mu * 1.001, p.cov, p.r, 0.0)
    np.testing.assert_allclose(second.max_sharpe, again, atol=1e-12)
    np.testing.assert_allclose(first.max_sharpe.sum(), 1.0, atol=1e-12)
