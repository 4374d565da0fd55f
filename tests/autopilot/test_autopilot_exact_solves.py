"""The autopilot's max-Sharpe and min-variance solves (``portfolio.LimitsSolver``): the exact KKT
point of the problem the conic solver approximates, under the autopilot's kinds of limits
(position cap, sector caps, ESG floor, wash-sale blocks), checked against cvxpy
(``portfolio.solve``) and PyPortfolioOpt run here on the same estimates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pypfopt import EfficientFrontier

from autoport import data, estimators, portfolio
from autoport.optimize import Constraints
from autoport.strategies.autopilot import _esg_scores

CAP, SECTOR = 0.10, 0.25
BLOCKED = ("AAPL", "XOM")  # sold at a loss within the wash-sale window: upper bound 0


@pytest.fixture(scope="module")
def windows() -> list[pd.DataFrame]:
    """253-row windows at six month-ends, 2008 (falling) to 2021 (rising)."""
    prices = data.bundled_prices()
    ends = ["2008-03-31", "2008-10-31", "2013-06-28", "2016-01-29", "2020-03-31", "2021-11-30"]
    return [prices.loc[:end].iloc[-253:] for end in ends]


def _limits(tickers, *, blocked=(), esg=None) -> Constraints:
    sectors = data.sector_map()
    groups = {t: sectors.get(t, t) for t in tickers}
    extra = {"esg_scores": _esg_scores(), "min_esg": esg} if esg is not None else {}
    return Constraints(lower=0.0, upper={t: 0.0 if t in blocked else CAP for t in tickers},
                       groups=groups, group_max={g: SECTOR for g in set(groups.values())},
                       **extra)


def _pypfopt(window: pd.DataFrame, objective: str, cons: Constraints) -> pd.Series:
    """PyPortfolioOpt's answer to the same problem: bounds per asset, sector caps, ESG floor."""
    tickers = list(window.columns)
    mu, cov = estimators.mean_return(window), estimators.ledoit_wolf_cov(window)
    ef = EfficientFrontier(mu, cov, weight_bounds=[(0.0, cons.upper[t]) for t in tickers],
                           solver="CLARABEL")
    ef.add_sector_constraints(dict(cons.groups), {g: 0.0 for g in cons.group_max},
                              dict(cons.group_max))
    if cons.min_esg is not None:
        s = np.array([cons.esg_scores[t] for t in tickers]) - cons.min_esg
        ef.add_constraint(lambda w: s @ w >= 0)  # Σ score·w ≥ floor·Σw
    if objective == "max_sharpe":
        ef.max_sharpe(risk_free_rate=0.0)
    else:
        ef.min_volatility()
    return pd.Series(ef.clean_weights(rounding=None)).reindex(tickers)


def _case_limits(window: pd.DataFrame, objective: str, case: str, scores) -> Constraints:
    """The limits of ``case``: caps and sector caps, then blocked names, then a binding ESG
    floor (above the score of ``objective``'s answer without it)."""
    tickers = list(window.columns)
    cons = _limits(tickers, blocked=BLOCKED if case != "caps" else ())
    if case == "esg":
        free = portfolio.solve(window, objective=objective, constraints=cons).weights
        floor = float(sum(free[t] * scores[t] for t in tickers)) + 2.0
        cons = _limits(tickers, blocked=BLOCKED, esg=floor)
    return cons


def _assert_feasible(w: pd.Series, cons: Constraints, case: str, scores) -> None:
    """Feasible to rounding: budget, bounds, blocked names, sector caps, ESG floor."""
    tickers = list(w.index)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert w.min() >= 0.0 and w.max() <= CAP + 1e-12
    assert all(w[t] == 0.0 for t in BLOCKED) or case == "caps"
    for g, limit in cons.group_max.items():
        assert sum(w[t] for t in tickers if cons.groups[t] == g) <= limit + 1e-12
    if cons.min_esg is not None:
        assert sum(w[t] * scores[t] for t in tickers) >= cons.min_esg - 1e-9


@pytest.mark.parametrize("objective", ["max_sharpe", "min_variance"])
@pytest.mark.parametrize("case", ["caps", "blocked", "esg"])
def test_exact_points_agree_with_cvxpy_and_pypfopt(windows, objective, case):
    solver = portfolio.LimitsSolver()
    scores = _esg_scores()
    for window in windows:
        cons = _case_limits(window, objective, case, scores)
        fast = solver(window, objective, cons)
        ref = portfolio.solve(window, objective=objective, constraints=cons)
        # max Sharpe undefined (nothing within the limits beats cash): both hold min variance
        peer = _pypfopt(window, "min_variance" if ref.note else objective, cons)
        # the conic solvers' tolerance: weights to ~1e-5 (a flat objective near the optimum)
        np.testing.assert_allclose(fast.weights, ref.weights, atol=2e-4)
        np.testing.assert_allclose(fast.weights, peer, atol=2e-4)
        assert fast.note == ref.note
        w = fast.weights
        _assert_feasible(w, cons, case, scores)
        # and never worse than the conic point beyond its tolerance
        mu = estimators.mean_return(window).to_numpy()
        cov = estimators.ledoit_wolf_cov(window).to_numpy()
        r = ref.weights.to_numpy() / ref.weights.sum()
        if objective == "max_sharpe" and not ref.note:
            sharpe = lambda v: (v @ mu) / np.sqrt(v @ cov @ v)  # noqa: E731
            assert sharpe(w.to_numpy()) >= sharpe(r) - 1e-7
        elif objective == "min_variance":
            assert w.to_numpy() @ cov @ w.to_numpy() <= r @ cov @ r + 1e-9
    assert solver.exact == len(windows) and solver.fallbacks == 0


def _cvar(returns: np.ndarray, w: np.ndarray, beta: float = 0.95) -> float:
    """Rockafellar-Uryasev's objective at ``w``: min over α of α + Σ (loss − α)⁺ / ((1−β)T),
    reached at one of the losses (piecewise linear and convex in α)."""
    loss = -(returns @ w)
    return min(a + np.maximum(loss - a, 0.0).sum() / ((1 - beta) * len(loss)) for a in loss)


@pytest.mark.parametrize("case", ["caps", "blocked", "esg"])
def test_min_cvar_under_the_limits_is_the_lp_vertex_of_the_conic_problem(windows, case):
    """The bear regime's min CVaR (63 sessions) under the autopilot's limits: HiGHS's vertex
    against cvxpy's conic solve of the same problem, to the conic tolerance, exactly feasible
    and never worse."""
    solver = portfolio.LimitsSolver()
    scores = _esg_scores()
    for window in windows:
        window = window.iloc[-64:]
        cons = _case_limits(window, "min_cvar", case, scores)
        fast = solver(window, "min_cvar", cons)
        ref = portfolio.solve(window, objective="min_cvar", constraints=cons)
        np.testing.assert_allclose(fast.weights, ref.weights, atol=1e-5)
        w = fast.weights
        _assert_feasible(w, cons, case, scores)
        returns = window.pct_change().iloc[1:].to_numpy()
        r = ref.weights.to_numpy() / ref.weights.sum()
        assert _cvar(returns, w.to_numpy()) <= _cvar(returns, r) + 1e-9
        assert fast.expected_return == pytest.approx(ref.expected_return, abs=1e-6)
    assert solver.exact == len(windows)


def test_a_blocked_set_that_comes_back_resumes_its_own_warm_start(windows):
    solver = portfolio.LimitsSolver()
    tickers = list(windows[0].columns)
    free, blocked = _limits(tickers), _limits(tickers, blocked=BLOCKED)
    for window in windows[:3]:
        for cons in (free, blocked):
            fast = solver(window, "max_sharpe", cons)
            cold = portfolio.LimitsSolver()(window, "max_sharpe", cons)
            # the warm start changes the time, not the answer
            np.testing.assert_array_equal(fast.weights.to_numpy(), cold.weights.to_numpy())
    assert len(solver._paths) == 2


def test_what_the_exact_path_does_not_handle_goes_to_the_conic_solve(windows):
    window = windows[0]
    solver = portfolio.LimitsSolver()
    cons = Constraints(upper=0.2, max_turnover=0.5,
                       current_weights={t: 1.0 / window.shape[1] for t in window.columns})
    got = solver(window, "max_sharpe", cons)
    ref = portfolio.solve(window, objective="max_sharpe", constraints=cons)
    np.testing.assert_array_equal(got.weights.to_numpy(), ref.weights.to_numpy())
    assert solver.exact == 0


def test_a_new_set_of_bounds_starts_from_the_last_active_sets_and_gets_the_cold_answer(
        windows):
    solver = portfolio.LimitsSolver()
    tickers = list(windows[0].columns)
    solver(windows[0], "max_sharpe", _limits(tickers))
    for k, window in enumerate(windows[1:4]):
        cons = _limits(tickers, blocked=BLOCKED[: k % 2 + 1] + (tickers[k],))
        fast = solver(window, "max_sharpe", cons)
        cold = portfolio.LimitsSolver()(window, "max_sharpe", cons)
        np.testing.assert_array_equal(fast.weights.to_numpy(), cold.weights.to_numpy())
    assert len(solver._paths) == 4 and solver.fallbacks == 0


def test_constraints_passed_again_reuse_their_arrays_and_new_ones_are_resolved(windows):
    solver = portfolio.LimitsSolver()
    window = windows[2]
    tickers = list(window.columns)
    cons = _limits(tickers)
    first = solver(window, "min_variance", cons)
    again = solver(window, "min_variance", cons)
    assert len(solver._resolved) == 1
    np.testing.assert_array_equal(first.weights.to_numpy(), again.weights.to_numpy())
    # an equal-looking but new object with another blocked name is its own problem
    other = solver(window, "min_variance", _limits(tickers, blocked=BLOCKED))
    assert len(solver._resolved) == 2 and all(other.weights[t] == 0.0 for t in BLOCKED)
