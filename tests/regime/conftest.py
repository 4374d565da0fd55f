"""Shared by the regime tests: the jump model's fit as it was before the speed-up (issue 13
item 3), the reference the faster code must equal."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from autoport.regime.jump import assign_states


def reference_coordinate_descent(x, n_states, jump_penalty, *, n_init, seed, max_iter=100,
                                 tol=1e-8):
    """The implementation before the speed-up (scipy's cdist, one-hot means summed by numpy,
    three counts for the clustering check, sklearn's k-means++ starts)."""
    from sklearn.cluster import kmeans_plusplus

    rng = np.random.RandomState(seed)
    starts = [kmeans_plusplus(x, n_states, random_state=rng)[0] for _ in range(n_init)]

    def same(a, b):
        if a is None or b is None:
            return False
        pairs = np.count_nonzero(np.bincount(a * (int(b.max()) + 1) + b))
        return np.count_nonzero(np.bincount(a)) == np.count_nonzero(np.bincount(b)) == pairs

    def means(labels):
        onehot = np.zeros((len(labels), n_states))
        onehot[np.arange(len(labels)), labels] = 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            return (onehot.T @ x) / onehot.sum(axis=0, keepdims=True).T

    def e_step(centers):
        return assign_states(0.5 * cdist(x, centers, "sqeuclidean"), jump_penalty)

    best_val, best_labels, best_centers = np.inf, None, None
    for centers in starts:
        labels_pre, val_pre = None, np.inf
        labels, val = e_step(centers)
        done = 0
        while done < max_iter and not same(labels, labels_pre) and val_pre - val > tol:
            done += 1
            labels_pre, val_pre = labels, val
            centers = means(labels)
            labels, val = e_step(centers)
        if not same(best_labels, labels) and val < best_val:
            best_val, best_labels, best_centers = val, labels, centers
    order = np.argsort(-np.bincount(best_labels, minlength=n_states).astype(float))
    relabel = np.empty(n_states, dtype=int)
    relabel[order] = np.arange(n_states)
    return best_centers[order], relabel[best_labels], float(best_val)


@pytest.fixture(scope="session")
def old_coordinate_descent():
    """:func:`reference_coordinate_descent` (the fit before the speed-up)."""
    return reference_coordinate_descent
