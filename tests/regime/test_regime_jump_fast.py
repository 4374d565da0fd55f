"""The jump model's fit after the speed-up (column-wise distances, remembered steps, shared
k-means++ set-up) equals the previous implementation (``old_coordinate_descent``, kept in
``tests/regime/conftest.py``), bit for bit on the bundled data's own training windows and on
synthetic ones."""

from __future__ import annotations

import numpy as np
import pytest

from autoport import data
from autoport.regime.config import load_config
from autoport.regime.features import FEATURE_RET, Scaler, build_features
from autoport.regime.jump import _same_clustering, coordinate_descent


@pytest.fixture(scope="module")
def bundled_features():
    det = load_config(None).detector
    feats = build_features(data.bundled_prices(), **det.feature_kwargs())
    return feats, det


@pytest.mark.parametrize("rows", [756, 3276, 6300])
def test_the_default_detectors_fits_on_the_bundled_data_equal_the_previous_code(
        bundled_features, rows, old_coordinate_descent):
    feats, det = bundled_features
    raw = feats.to_numpy(dtype=float)[:rows]
    clustered = [i for i, c in enumerate(feats.columns) if c != FEATURE_RET]
    x = Scaler.fit(raw).transform(raw)[:, clustered]
    args = (x, det.n_states, det.jump_penalty)
    kw = dict(n_init=det.n_restarts, seed=det.seed)
    centers, labels, value = coordinate_descent(*args, **kw)
    ref_centers, ref_labels, ref_value = old_coordinate_descent(*args, **kw)
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_array_equal(centers, ref_centers)
    assert value == ref_value


@pytest.mark.parametrize("seed", range(8))
def test_synthetic_fits_with_empty_states_and_large_penalties_equal_the_previous_code(
        seed, old_coordinate_descent):
    rng = np.random.default_rng(seed)
    n, k, f = int(rng.integers(60, 700)), int(rng.integers(2, 4)), int(rng.integers(1, 6))
    lam = float(rng.choice([0.0, 3.0, 50.0, 400.0, 900.0]))  # 900: the Python dp fallback
    x = rng.standard_normal((n, f))
    x[n // 4: n // 2] += 1.5
    if seed % 3 == 0:
        x[:, 0] = np.round(x[:, 0])  # repeated rows: ties and restarts meeting on one path
    got = coordinate_descent(x, k, lam, n_init=6, seed=seed)
    ref = old_coordinate_descent(x, k, lam, n_init=6, seed=seed)
    np.testing.assert_array_equal(got[1], ref[1])
    np.testing.assert_array_equal(got[0], ref[0])
    assert got[2] == ref[2]


def test_the_clustering_check_equals_the_three_counts():
    rng = np.random.default_rng(0)
    for _ in range(300):
        k = int(rng.integers(1, 4))
        a = rng.integers(0, k, int(rng.integers(1, 30)))
        b = rng.permutation(k)[a] if rng.random() < 0.5 else rng.integers(0, k, len(a))
        pairs = np.count_nonzero(np.bincount(a * (int(b.max()) + 1) + b))
        ref = np.count_nonzero(np.bincount(a)) == np.count_nonzero(np.bincount(b)) == pairs
        assert _same_clustering(a, b) == ref


@pytest.mark.parametrize("f", [1, 5, 8, 12, 13, 24, 130])
def test_the_online_losses_are_numpys_three_dimensional_sums(f):
    """``JumpFit._loss`` (the online labels' losses) summed a column at a time in numpy's
    pairwise order equals the expression it replaced, to the bit, NaN centres included."""
    from autoport.regime.jump import half_squared_distances

    rng = np.random.default_rng(f)
    for n, k in ((300, 2), (2_000, 3), (50, 2)):
        x = rng.standard_normal((n, f)) * rng.uniform(0.1, 30.0, f)
        centers = rng.standard_normal((k, f))
        if k == 3:
            centers[1] = np.nan  # an empty state
        diff = x[:, None, :] - centers[None, :, :]
        np.testing.assert_array_equal(half_squared_distances(x, centers),
                                      0.5 * (diff * diff).sum(axis=2))
