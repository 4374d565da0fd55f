"""Min CVaR by HiGHS's simplex equals the conic solve it replaces in the regime strategy
(``portfolio.solve`` through cvxpy and Clarabel) and PyPortfolioOpt's ``EfficientCVaR``, both
run here, to their tolerance, on 63-session windows of the bundled data and on synthetic ones;
and its answer is exactly feasible."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from autoport import data, portfolio
from autoport.optimize.cvar_lp import min_cvar_weights


def rockafellar_uryasev(returns: np.ndarray, w: np.ndarray, beta: float = 0.95) -> float:
    """The programme's objective at ``w``: min over α of α + Σ max(loss − α, 0) / ((1−β)T),
    reached at one of the losses (it is piecewise linear and convex in α)."""
    loss = -(returns @ w)
    return min(a + np.maximum(loss - a, 0.0).sum() / ((1 - beta) * len(loss)) for a in loss)


def check(window, cap: float) -> None:
    from pypfopt import EfficientCVaR

    returns = window.pct_change().iloc[1:]
    r = returns.to_numpy()
    w = min_cvar_weights(r, cap)
    assert w is not None
    assert abs(w.sum() - 1.0) <= 1e-12 and w.min() >= -1e-12 and w.max() <= cap + 1e-12
    conic = portfolio.solve(window, objective="min_cvar", max_weight=cap).weights.to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = np.array(list(EfficientCVaR(None, returns, beta=0.95,
                                           weight_bounds=(0, cap)).min_cvar().values()))
    for ref in (conic, peer):
        np.testing.assert_allclose(w, ref, atol=1e-6)
        # no worse than the reference, which is itself feasible only to ~1e-8 (its dust rule)
        assert rockafellar_uryasev(r, w) <= rockafellar_uryasev(r, ref / ref.sum()) + 1e-9


@pytest.mark.parametrize("end", [400, 2_000, 4_700, 6_500, 8_100])
def test_bundled_windows_match_cvxpy_and_pypfopt(end):
    prices = data.bundled_prices()
    check(prices.iloc[end - 64:end], 0.10)


@pytest.mark.parametrize("seed", range(4))
def test_synthetic_windows_match_cvxpy_and_pypfopt(seed):
    import pandas as pd

    rng = np.random.default_rng(seed)
    t, n = int(rng.integers(40, 260)), int(rng.integers(4, 25))
    factor = rng.standard_normal((t, 1)) * 0.012
    returns = factor * rng.uniform(0.5, 1.5, n) + rng.standard_normal((t, n)) * 0.01
    prices = pd.DataFrame(100 * np.cumprod(1 + returns, axis=0),
                          index=pd.bdate_range("2020-01-01", periods=t),
                          columns=[f"A{i}" for i in range(n)])
    check(prices, max(1.0 / n, float(rng.choice([0.15, 0.3, 1.0]))))
