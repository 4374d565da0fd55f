"""Two shortcuts of the warm path: the no-gain test before max Sharpe, and the LAPACK solve.

``below_rf`` must say True only where the walk's max Sharpe finds nothing above rf (the
warm path then skips the walk), and its highest return is the LP's (HiGHS, in the test).
``solve`` must give ``np.linalg.solve``'s floats and raise ``LinAlgError`` where it does.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from autoport.optimize import Constraints, _homotopy
from autoport.optimize import constraints as C
from autoport.optimize.warm import WarmPath


def _problem(seed, n=12, shift=0.0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    cov = a @ a.T / n * 0.05 + np.diag(rng.uniform(0.005, 0.05, n))
    mu = rng.uniform(-0.25, 0.1, n) + shift
    return mu, cov, C.resolve(Constraints(upper=0.25), [f"X{i}" for i in range(n)])


def _lp_best(mu, r):
    res = linprog(-mu, A_eq=np.ones((1, len(mu))), b_eq=[r.budget],
                  bounds=list(zip(r.lb, r.ub)), method="highs")
    return -res.fun


@pytest.mark.parametrize("seed", range(12))
def test_below_rf_agrees_with_the_walk_and_the_lp(seed):
    mu, cov, r = _problem(seed, shift=0.1 * (seed % 4) - 0.1)
    best = _lp_best(mu, r)
    for rf in (best - 1e-3, best + 1e-3, 0.0):
        said = _homotopy.below_rf(mu, r, rf)
        assert said == (best < rf - 1e-6) or abs(best - rf) < 1e-6
        walked = _homotopy.max_sharpe(mu, cov, r, rf, w_start=None, polish=True)
        if said:
            assert walked is None
        elif best > rf + 1e-6:
            assert walked is not None


def test_below_rf_defers_to_the_path_with_group_rows():
    mu, cov, _ = _problem(0, shift=-1.0)
    t = [f"X{i}" for i in range(len(mu))]
    r = C.resolve(Constraints(upper=0.25, groups={x: f"g{i % 2}" for i, x in enumerate(t)},
                              group_max={"g0": 0.6}), t)
    assert not _homotopy.below_rf(mu, r, 0.0)  # a row: only the path may say


def test_warm_path_gives_min_variance_where_nothing_beats_rf():
    mu, cov, r = _problem(3, shift=-1.0)
    assert _homotopy.below_rf(mu, r, 0.0)
    found = WarmPath(r).solve(mu, cov, rf=0.0)
    assert not found.beats_rf
    assert found.max_sharpe.tobytes() == found.min_variance.tobytes()
    assert _homotopy.max_sharpe(mu, cov, r, 0.0, polish=True) is None


@pytest.mark.parametrize("seed", range(5))
def test_solve_is_numpy_solve_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(17, 17))
    b = rng.normal(size=(17, 2))
    assert _homotopy.solve(a, b).tobytes() == np.linalg.solve(a, b).tobytes()
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.solve(np.zeros((3, 3)), b[:3])
    with pytest.raises(np.linalg.LinAlgError):
        _homotopy.solve(np.zeros((3, 3)), b[:3])
