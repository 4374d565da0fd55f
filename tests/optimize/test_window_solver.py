"""``portfolio.WindowSolver`` (the MPT strategy's step): the exact KKT point of the problem
``portfolio.solve`` hands a conic solver, warm-started across windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport import portfolio
from autoport.data import bundled_prices
from autoport.errors import InfeasibleError

CAP = 0.25


@pytest.fixture(scope="module")
def windows() -> list[pd.DataFrame]:
    """Twelve monthly windows through 2008 (falling markets included), 253 rows each."""
    prices = bundled_prices()
    ends = prices.loc["2008-01-01":"2008-12-31"].groupby(
        prices.loc["2008-01-01":"2008-12-31"].index.to_period("M")).head(1).index
    return [prices.loc[:end].iloc[-253:] for end in ends]


@pytest.mark.parametrize("objective", ["max_sharpe", "min_volatility"])
def test_exact_points_agree_with_the_conic_solve_and_are_never_worse(windows, objective):
    solver = portfolio.WindowSolver(objective=objective, max_weight=CAP)
    for window in windows:
        fast = solver(window)
        ref = portfolio.solve(window, objective=objective, max_weight=CAP)
        # the conic solve's tolerance: weights to ~1e-5 (flat objective near the optimum)
        np.testing.assert_allclose(fast.weights, ref.weights, atol=1e-4)
        assert fast.note == ref.note
        assert fast.weights.sum() == pytest.approx(1.0, abs=1e-12)
        assert fast.weights.min() >= 0 and fast.weights.max() <= CAP + 1e-15
        # never worse than the conic point, beyond its tolerance: its weights sum to 1 - ~1e-8
        # (compared at that scale) and it may sit ~1e-11 above the cap
        scale = ref.weights.sum()
        if objective == "max_sharpe" and not ref.note:
            assert (fast.expected_return / fast.volatility
                    >= ref.expected_return / ref.volatility * (1 - 1e-8))
        else:
            assert fast.volatility <= ref.volatility / scale * (1 + 1e-8)
    assert solver.fallbacks == 0


def test_the_warm_start_changes_the_time_not_the_answer(windows):
    warm = portfolio.WindowSolver(max_weight=CAP)
    for window in windows:
        cold = portfolio.WindowSolver(max_weight=CAP)(window)
        np.testing.assert_allclose(warm(window).weights, cold.weights, rtol=0, atol=1e-13)


def test_nothing_above_the_risk_free_rate_holds_min_variance_and_says_so(windows):
    window = windows[-1]
    found = portfolio.WindowSolver(max_weight=CAP, risk_free_rate=5.0)(window)
    mv = portfolio.WindowSolver(objective="min_volatility", max_weight=CAP)(window)
    np.testing.assert_allclose(found.weights, mv.weights, atol=1e-13)
    assert found.note == portfolio.solve(window, max_weight=CAP, risk_free_rate=5.0).note
    assert "max Sharpe is undefined" in found.note


def test_anything_else_is_the_conic_solve_itself(windows):
    window = windows[0]
    for kwargs in ({"objective": "min_cvar"},
                   {"objective": "efficient_return", "target_return": 0.05}):
        solver = portfolio.WindowSolver(max_weight=CAP, **kwargs)
        assert not solver.exact
        ref = portfolio.solve(window, max_weight=CAP, **kwargs)
        np.testing.assert_array_equal(solver(window).weights, ref.weights)
    gaps = window.copy()
    gaps.iloc[5, 2] = np.nan  # a window with a gap goes to the estimators that handle it
    np.testing.assert_array_equal(portfolio.WindowSolver(max_weight=CAP)(gaps).weights,
                                  portfolio.solve(gaps, max_weight=CAP).weights)
    with pytest.raises(InfeasibleError, match="raise max_weight to at least 0.0500"):
        portfolio.WindowSolver(max_weight=0.04)(window)
