"""The true-parameter filter (the ceiling compare.py prints beside the synthetic check) is the
forward recursion under the generator's own parameters, and is online."""

from __future__ import annotations

import numpy as np
from scipy.stats import multivariate_normal

from autoport.regime import evaluation as ev
from autoport.synthetic import default_model, regime_switching_prices


def test_oracle_labels_are_the_written_out_filter_under_the_true_parameters():
    prices, truth = regime_switching_prices(300, seed=4)
    m = default_model(prices.shape[1])
    # the recursion by hand: p_t ∝ (p_{t-1} A) * N(r_t; mu_k, Sigma_k), chain starting in regime 0
    r = prices.pct_change().iloc[1:].to_numpy()
    covs = [np.outer(m.vols[k], m.vols[k]) * m.correlations[k] for k in range(3)]
    dens = np.column_stack([multivariate_normal(m.means[k], covs[k]).pdf(r) for k in range(3)])
    predicted, expected = np.eye(3)[0], []
    for row in dens:
        p = predicted * row
        p /= p.sum()
        expected.append(m.names[int(p.argmax())])
        predicted = p @ m.transition
    labels = ev.oracle_labels(prices)
    assert labels.index.equals(truth.index)
    assert labels.tolist() == expected
    # it knows the generator, so it is right on most days (a label mix-up would show here)
    assert ev.synthetic_accuracy(labels, truth, 3) > 0.8


def test_oracle_labels_read_no_later_returns():
    prices = regime_switching_prices(300, seed=1)[0]
    cut = 200
    changed = prices.copy()  # price rows after cut + 1 change, so returns (labels) from cut on
    noise = np.random.default_rng(0).normal(0, 0.05, (len(prices) - cut - 1, 5))
    changed.iloc[cut + 1:] *= np.exp(noise.cumsum(0))
    a, b = ev.oracle_labels(prices), ev.oracle_labels(changed)
    assert a.iloc[:cut].equals(b.iloc[:cut])
    assert not a.equals(b)  # the perturbation is large enough to move later labels
