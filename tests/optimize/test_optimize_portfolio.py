"""``autoport.portfolio.solve`` (the MPT strategy's step) now runs on the optimizer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pypfopt import EfficientFrontier, expected_returns, risk_models

from autoport import portfolio
from autoport.data import bundled_prices
from autoport.errors import ConfigError, InfeasibleError
from autoport.optimize import Constraints
from autoport.strategies.mpt import MeanVariance


@pytest.fixture(scope="module")
def window() -> pd.DataFrame:
    return bundled_prices().iloc[-253:]


@pytest.mark.parametrize("objective", ["max_sharpe", "min_volatility"])
def test_solve_matches_the_pypfopt_step_it_replaced(window, objective):
    mu = expected_returns.mean_historical_return(window, frequency=252)
    cov = risk_models.CovarianceShrinkage(window, frequency=252).ledoit_wolf()
    ef = EfficientFrontier(mu, cov, weight_bounds=(0, 0.25), solver="CLARABEL")
    ef.max_sharpe(risk_free_rate=0.01) if objective == "max_sharpe" else ef.min_volatility()
    ret, vol, sharpe = ef.portfolio_performance(risk_free_rate=0.01)
    sol = portfolio.solve(window, objective=objective, max_weight=0.25, risk_free_rate=0.01)
    np.testing.assert_allclose(sol.weights, pd.Series(ef.weights, index=mu.index), atol=1e-4)
    if objective == "max_sharpe":  # the objective agrees tightly, and ours is not worse
        ours = (sol.expected_return - 0.01) / sol.volatility
        assert ours == pytest.approx(sharpe, rel=1e-7) and ours >= sharpe * (1 - 1e-9)
    else:
        assert sol.volatility == pytest.approx(vol, rel=1e-7)
    assert sol.note == ""


def test_below_risk_free_holds_min_variance_with_a_note(window):
    sol = portfolio.solve(window, max_weight=0.25, risk_free_rate=5.0)
    mv = portfolio.solve(window, objective="min_volatility", max_weight=0.25)
    np.testing.assert_allclose(sol.weights, mv.weights, atol=1e-8)
    assert "max Sharpe is undefined, held min variance instead" in sol.note


def test_errors_keep_their_messages(window):
    with pytest.raises(InfeasibleError, match="raise max_weight to at least 0.0500"):
        portfolio.solve(window, max_weight=0.04)
    with pytest.raises(ConfigError, match="unknown objective 'best'"):
        portfolio.solve(window, objective="best")


def test_any_objective_and_constraint_set_reaches_the_strategy_step(window):
    cons = Constraints(max_position=0.2, exclude=["AAPL"])
    sol = portfolio.solve(window, objective="min_cdar", constraints=cons)
    assert sol.weights["AAPL"] == 0 and sol.weights.max() <= 0.2 + 1e-9
    assert sol.weights.sum() == pytest.approx(1, abs=1e-8)
    decision = MeanVariance(window=252, max_weight=0.25).decide(window)
    assert decision.weights.sum() == pytest.approx(1) and decision.weights.max() <= 0.25 + 1e-6
