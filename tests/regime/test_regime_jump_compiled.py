"""The jump model's fit with hmmlearn's compiled Viterbi pass equals ``jumpmodels`` itself (the
reference implementation, run here): state assignments, value rows, whole fits and the carry
an online run continues from."""

from __future__ import annotations

import numpy as np
import pytest
from jumpmodels.jump import JumpModel, dp, jump_penalty_to_mx

from autoport.regime.jump import (
    _kmeans_plusplus, assign_states, carry_after, coordinate_descent, forward_values,
)

PENALTIES = [0.0, 0.7, 10.0, 300.0, 900.0]  # 900: exp(-900) underflows, the Python fallback


@pytest.mark.parametrize("lam", PENALTIES)
@pytest.mark.parametrize("k", [2, 3])
def test_the_compiled_assignment_is_jumpmodels_dp(lam, k):
    rng = np.random.default_rng(int(lam * 10) + k)
    for n in (1, 2, 50, 2000):
        loss = rng.gamma(1.0, 2.0, (n, k))
        labels, value = assign_states(loss, lam)
        ref_labels, ref_value = dp(loss, jump_penalty_to_mx(lam, k))
        np.testing.assert_array_equal(labels, ref_labels)
        assert abs(value - ref_value) <= 1e-12 * max(1.0, abs(ref_value))
        np.testing.assert_array_equal(  # the value matrix, bit for bit
            forward_values(loss, lam), dp(loss, jump_penalty_to_mx(lam, k), True))


def test_an_empty_state_is_unreachable_as_in_jumpmodels():
    loss = np.random.default_rng(0).gamma(1.0, 1.0, (300, 3))
    loss[:, 1] = np.nan  # a NaN centre: dp counts its loss as infinite
    labels, value = assign_states(loss, 5.0)
    ref_labels, ref_value = dp(loss, jump_penalty_to_mx(5.0, 3))
    np.testing.assert_array_equal(labels, ref_labels)
    assert 1 not in labels and value == pytest.approx(ref_value, rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_the_fit_is_jumpmodels_fit(seed):
    rng = np.random.default_rng(seed)
    n, k, f = int(rng.integers(80, 900)), int(rng.integers(2, 4)), int(rng.integers(1, 5))
    lam = float(rng.choice([0.0, 2.0, 20.0, 100.0]))
    x = rng.standard_normal((n, f))
    x[n // 3: n // 2] += 2.0  # a phase to find
    ref = JumpModel(n_components=k, jump_penalty=lam, cont=False, n_init=4, max_iter=100,
                    random_state=seed).fit(x, sort_by=None)
    centers, labels, objective = coordinate_descent(x, k, lam, n_init=4, seed=seed)
    np.testing.assert_array_equal(labels, np.asarray(ref.labels_))
    np.testing.assert_array_equal(centers, ref.centers_)
    assert abs(objective - ref.val_) <= 1e-12 * abs(ref.val_)


@pytest.mark.parametrize("lam", PENALTIES)
def test_an_online_run_continued_from_the_carry_equals_one_pass(lam):
    rng = np.random.default_rng(3)
    loss = rng.gamma(1.0, 3.0, (700, 3))
    whole = dp(loss, jump_penalty_to_mx(lam, 3), True)
    carry = carry_after(loss[:500], lam)
    # the carry is the value row capped at its minimum plus the penalty (what the next row reads)
    last = whole[499]
    np.testing.assert_array_equal(carry, np.minimum(last, last.min() + lam))
    np.testing.assert_array_equal(forward_values(loss[500:], lam, carry), whole[500:])


@pytest.mark.parametrize("k", [2, 3])
def test_the_kmeans_plusplus_starts_are_sklearns(k):
    from sklearn.cluster import kmeans_plusplus

    x = np.random.default_rng(k).standard_normal((1500, 7))
    mine, theirs = np.random.RandomState(5), np.random.RandomState(5)
    for _ in range(4):  # successive draws from one generator, as the fit makes them
        np.testing.assert_array_equal(_kmeans_plusplus(x, k, mine),
                                      kmeans_plusplus(x, k, random_state=theirs)[0])
