"""Min CVaR handed to HiGHS directly (``autoport.optimize.cvar_lp``) gives ``scipy.optimize.
linprog(method="highs-ds")``'s answer to the bit: the same LP (built here as linprog takes it,
dense) to the same solver with the same options, on bundled windows (returns with exact zeros,
which the sparse matrix leaves out), synthetic ones, and under floors and general rows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from autoport import data
from autoport.optimize.cvar_lp import _OPTIONS, min_cvar_weights


def by_linprog(r, upper, beta=0.95, lower=None, rows=None, rhs=None):
    """The LP as scipy's linprog states it: dense matrices, bounds as pairs."""
    t, n = r.shape
    cost = np.concatenate([np.zeros(n), [1.0], np.full(t, 1.0 / ((1.0 - beta) * t))])
    a_ub = np.hstack([-r, -np.ones((t, 1)), -np.eye(t)])
    b_ub = np.zeros(t)
    if rows is not None and len(rows):
        a_ub = np.vstack([a_ub, np.hstack([rows, np.zeros((len(rows), 1 + t))])])
        b_ub = np.concatenate([b_ub, rhs])
    a_eq = np.concatenate([np.ones(n), np.zeros(1 + t)])[None, :]
    low = np.zeros(n) if lower is None else lower
    high = np.broadcast_to(np.asarray(upper, dtype=float), (n,))
    bounds = np.array(list(zip(low, high)) + [(-np.inf, np.inf)] + [(0.0, np.inf)] * t)
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0], bounds=bounds,
                  method="highs-ds", options=_OPTIONS)
    return None if res.status != 0 else res.x[:n]


def same_bits(a, b):
    assert a is not None and b is not None
    assert a.tobytes() == b.tobytes(), np.abs(a - b).max()


@pytest.mark.parametrize("end", [300, 1_500, 3_000, 4_700, 6_000, 7_400, 8_200])
@pytest.mark.parametrize("length,cap", [(64, 0.10), (127, 0.25)])
def test_bundled_windows(end, length, cap):
    values = data.bundled_prices().iloc[end - length:end].to_numpy()
    r = values[1:] / values[:-1] - 1.0
    assert (r == 0.0).any() or end != 300  # the bundled data has unchanged prices
    same_bits(min_cvar_weights(r, cap), by_linprog(r, cap))


@pytest.mark.parametrize("seed", range(6))
def test_synthetic_with_floors_and_rows(seed):
    rng = np.random.default_rng(seed)
    t, n = int(rng.integers(30, 200)), int(rng.integers(3, 20))
    r = rng.standard_normal((t, 1)) * 0.01 * rng.uniform(0.5, 1.5, n) \
        + rng.standard_normal((t, n)) * 0.01
    r[rng.random((t, n)) < 0.05] = 0.0
    upper = rng.uniform(1.5 / n, 0.6, n)
    same_bits(min_cvar_weights(r, upper), by_linprog(r, upper))
    lower = np.where(rng.random(n) < 0.3, 0.2 / n, 0.0)
    rows = np.vstack([np.where(rng.random(n) < 0.4, 1.0, 0.0), -rng.uniform(0, 1, n)])
    rhs = np.array([0.5, -0.2])
    same_bits(min_cvar_weights(r, upper, lower=lower, rows=rows, rhs=rhs),
              by_linprog(r, upper, lower=lower, rows=rows, rhs=rhs))
    # no optimum (the floors above the caps' room): both say so
    assert min_cvar_weights(r, 0.9 / n) is None and by_linprog(r, 0.9 / n) is None
