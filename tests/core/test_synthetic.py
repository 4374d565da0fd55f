"""The ground-truth generator: seeded, and its paths carry the regimes' stated statistics."""

from __future__ import annotations

import numpy as np
import pytest

from autoport.errors import DataError
from autoport.synthetic import RegimeModel, default_model, regime_switching_prices


def test_same_seed_same_path_other_seed_other_path():
    a, la = regime_switching_prices(500, seed=3)
    b, lb = regime_switching_prices(500, seed=3)
    c, _ = regime_switching_prices(500, seed=4)
    assert a.equals(b) and la.equals(lb)
    assert not a.equals(c)


def test_regime_statistics_match_the_model():
    model = default_model(n_assets=4)
    prices, labels = regime_switching_prices(40_000, model, seed=11)
    returns = prices.pct_change().iloc[1:]
    for k, name in enumerate(model.names):
        inside = returns[labels.to_numpy() == name]
        assert len(inside) > 2_000
        # Standard error of a mean is vol / sqrt(n); allow 4 of them.
        se = model.vols[k, 0] / np.sqrt(len(inside))
        np.testing.assert_allclose(inside.mean(), model.means[k], atol=4 * se)
        np.testing.assert_allclose(inside.std(), model.vols[k], rtol=0.05)
        corr = inside.corr().to_numpy()[np.triu_indices(4, 1)]
        np.testing.assert_allclose(corr, model.correlations[k][0, 1], atol=0.06)
    # Time shares approach the stationary distribution of the transition matrix.
    values, vectors = np.linalg.eig(model.transition.T)
    stationary = np.real(vectors[:, np.argmin(np.abs(values - 1))])
    stationary /= stationary.sum()
    shares = labels.value_counts(normalize=True).reindex(model.names).to_numpy()
    np.testing.assert_allclose(shares, stationary, atol=0.05)


def test_inconsistent_model_is_refused():
    model = default_model(3)
    bad = RegimeModel(model.means, model.vols, model.correlations, model.transition * 0.5)
    with pytest.raises(DataError, match="rows summing to 1"):
        regime_switching_prices(10, bad)
