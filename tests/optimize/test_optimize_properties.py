"""Risk budgeting, Pareto sets and hypothesis invariants of the optimizer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from autoport import estimators as E
from autoport.data import bundled_prices, sector_map
from autoport.errors import ConfigError, InfeasibleError
from autoport.optimize import _homotopy
from autoport.optimize.objectives import prepare
from autoport.optimize import (
    Constraints,
    efficient_frontier,
    optimize,
    pareto_front,
    risk_budgeting,
    risk_contributions,
)


@pytest.fixture(scope="module")
def bundled():
    prices = bundled_prices().iloc[-757:]
    return prices, E.mean_return(prices), E.ledoit_wolf_cov(prices)


# --------------------------------------------------------------------------- risk budgeting


def test_equal_risk_contribution(bundled):
    _, mu, cov = bundled
    res = optimize(mu, cov, "risk_parity")
    rc = risk_contributions(res.weights, cov)
    np.testing.assert_allclose(rc, 1 / 20, atol=1e-6)
    assert res.weights.sum() == pytest.approx(1, abs=1e-12) and res.weights.min() > 0


def test_risk_budget_per_asset(bundled):
    _, mu, cov = bundled
    budget = dict(zip(mu.index, np.linspace(1, 3, 20), strict=True))
    res = risk_budgeting(cov, budget)
    target = np.linspace(1, 3, 20) / np.linspace(1, 3, 20).sum()
    np.testing.assert_allclose(risk_contributions(res.weights, cov), target, atol=1e-6)


def test_two_asset_erc_closed_form():
    # two assets: ERC weights are inversely proportional to volatility, whatever the correlation
    s1, s2, rho = 0.1, 0.3, 0.4
    cov = pd.DataFrame([[s1**2, rho * s1 * s2], [rho * s1 * s2, s2**2]], index=["a", "b"],
                       columns=["a", "b"])
    res = risk_budgeting(cov)
    np.testing.assert_allclose(res.weights, [s2 / (s1 + s2), s1 / (s1 + s2)], atol=1e-12)


def test_risk_budget_per_sector(bundled):
    _, mu, cov = bundled
    sectors = sector_map()
    names = sorted(set(sectors.values()))
    budget = {s: (3.0 if s == "Health Care" else 1.0) for s in names}
    res = risk_budgeting(cov, budget, asset_classes=sectors)
    rc = risk_contributions(res.weights, cov)
    by_class = rc.groupby(pd.Series(sectors)).sum()
    total = sum(budget.values())
    for s in names:
        assert by_class[s] == pytest.approx(budget[s] / total, abs=1e-6)


def test_risk_budget_refuses_bad_input(bundled):
    _, mu, cov = bundled
    with pytest.raises(ConfigError, match="every risk budget must be positive"):
        risk_budgeting(cov, {"AAPL": 1.0})
    with pytest.raises(ConfigError, match="long-only, fully invested"):
        risk_budgeting(cov, constraints=Constraints(max_position=0.1))


# ------------------------------------------------------------------------------ Pareto sets


def test_pareto_return_cdar_is_non_dominated(bundled):
    prices, mu, cov = bundled
    scen = prices.pct_change().dropna()
    front = pareto_front(mu, cov, ("return", "cdar"), scenarios=scen, n_points=8)
    assert len(front) >= 6
    order = front.sort_values("return")
    # more return costs more drawdown along a Pareto set
    assert np.all(np.diff(order["cdar"].to_numpy()) >= -1e-10)
    # its low end is the min-CDaR portfolio
    cd = optimize(mu, cov, "min_cdar", scenarios=scen)
    assert order["cdar"].iloc[0] == pytest.approx(cd.extra["cdar"], rel=1e-5)
    weights = order[list(mu.index)].to_numpy()
    np.testing.assert_allclose(weights.sum(1), 1, atol=1e-8)


def test_pareto_variance_cvar_trade_off(bundled):
    prices, mu, cov = bundled
    scen = prices.pct_change().dropna()
    front = pareto_front(mu, cov, ("variance", "cvar"), scenarios=scen, n_points=6)
    order = front.sort_values("variance")
    assert np.all(np.diff(order["cvar"].to_numpy()) <= 1e-10)
    with pytest.raises(ConfigError, match="two different measures"):
        pareto_front(mu, cov, ("cvar", "cvar"), scenarios=scen)


# -------------------------------------------------------------------- hypothesis invariants


@st.composite
def problems(draw):
    n = draw(st.integers(3, 8))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    cov = a @ a.T / n * 0.05 + np.diag(rng.uniform(0.005, 0.05, n))
    mu = rng.uniform(-0.05, 0.25, n)
    tickers = [f"X{i}" for i in range(n)]
    cap = draw(st.floats(1.0 / n + 0.02, 1.0))
    groups = {t: ("g1" if i % 2 else "g2") for i, t in enumerate(tickers)}
    g1_cap = draw(st.floats(0.2, 1.0))
    # keep the set feasible: g2 must be able to take what g1 may not
    n_g2 = sum(1 for g in groups.values() if g == "g2")
    if n_g2 * cap < 1 - g1_cap:
        g1_cap = 1.0
    return (pd.Series(mu, index=tickers), pd.DataFrame(cov, index=tickers, columns=tickers),
            Constraints(max_position=cap, groups=groups, group_max={"g1": g1_cap}))


def _check(w: pd.Series, cons: Constraints):
    assert w.sum() == pytest.approx(1.0, abs=1e-8)
    assert w.min() >= -1e-8
    assert w.max() <= cons.max_position + 1e-8
    g1 = sum(w[t] for t, g in cons.groups.items() if g == "g1")
    assert g1 <= cons.group_max["g1"] + 1e-8


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.sampled_from(["min_variance", "max_utility", "efficient_risk_mid"]))
def test_weights_respect_budget_bounds_and_groups(problem, objective):
    mu, cov, cons = problem
    if objective == "efficient_risk_mid":
        mv = optimize(mu, cov, "min_variance", cons)
        res = optimize(mu, cov, "efficient_risk", cons, target_volatility=mv.volatility * 1.2)
    else:
        res = optimize(mu, cov, objective, cons, risk_aversion=3)
    _check(res.weights, cons)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_max_sharpe_invariants_and_permutation(problem):
    mu, cov, cons = problem
    if mu.max() <= 0.01:
        return
    res = optimize(mu, cov, "max_sharpe", cons, risk_free_rate=0.0, fallback_to_min_variance=True)
    _check(res.weights, cons)
    order = list(reversed(mu.index))
    perm = optimize(mu[order], cov.loc[order, order], "max_sharpe", cons,
                    fallback_to_min_variance=True)
    np.testing.assert_allclose(perm.weights[mu.index], res.weights, atol=1e-5)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_frontier_volatility_non_decreasing_in_return(problem):
    mu, cov, cons = problem
    front = efficient_frontier(mu, cov, cons, n_points=15)
    assert np.all(np.diff(front.returns) >= -1e-9)
    assert np.all(np.diff(front.volatilities) >= -1e-8)
    for _, row in front.weights.iterrows():
        _check(row, cons)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.floats(0.0, 0.05), st.booleans())
def test_exact_path_agrees_with_conic_points(problem, floor, with_esg):
    mu, cov, cons = problem
    n = len(mu)
    floor = min(floor, 0.9 / n)  # per-asset minimum weights that still leave room
    esg = {t: float(i) for i, t in enumerate(mu.index)} if with_esg else None
    cons = Constraints(lower=floor, max_position=cons.max_position, groups=cons.groups,
                       group_max=cons.group_max, esg_scores=esg,
                       min_esg=(n - 1) / 2 if with_esg else None)
    try:
        conic = efficient_frontier(mu, cov, cons, n_points=8, method="pointwise")
    except InfeasibleError:
        return  # a random draw whose constraints conflict: nothing to compare
    exact = efficient_frontier(mu, cov, cons, n_points=8, method="homotopy")
    # the min-variance return is ill-conditioned (flat objective): the conic one is off by up
    # to ~1e-6, which shifts its equally spaced targets. Compare the ends, then the exact path
    # read at the conic points' own returns (same return, so volatility must agree)
    np.testing.assert_allclose(exact.returns[[0, -1]], conic.returns[[0, -1]], rtol=1e-5,
                               atol=1e-9)
    np.testing.assert_allclose(exact.volatilities[0], conic.volatilities[0], rtol=1e-6)
    p = prepare(mu, cov, cons)
    lo, hi = exact.returns[0], exact.returns[-1]
    inner = (conic.returns > lo) & (conic.returns < hi)
    at_conic = _homotopy.read_targets(p.mu, p.r, _homotopy.trace(p.mu, p.cov, p.r),
                                      conic.returns[inner])
    vol_exact = np.sqrt(np.einsum("ij,jk,ik->i", at_conic, p.cov, at_conic))
    np.testing.assert_allclose(vol_exact, conic.volatilities[inner], rtol=1e-6)
    # exact is optimal: the conic points meet the constraints only to the solver's tolerance
    # (~1e-8), which can buy them a volatility a few parts in 1e8 below the exact optimum
    assert np.all(vol_exact <= conic.volatilities[inner] * (1 + 1e-7))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.integers(0, 2**31 - 1))
def test_settling_a_guessed_active_set_lands_on_the_path(problem, seed):
    """_homotopy.settle (the menus' warm start) from any guess either gives up or returns the
    walked path's own minimum-variance and tangency points; from the right guess it settles
    (for the tangency: when its Sharpe peak lies inside a segment, not at a breakpoint)."""
    mu, cov, cons = problem
    p = prepare(mu, cov, cons)
    try:
        segments = _homotopy.trace(p.mu, p.cov, p.r)
    except _homotopy.PathFailed:
        # a degenerate draw (e.g. 3 assets capped near 1/3: the minimum variance is a vertex,
        # "no free weights at λ=0"); the walk gives up there and its callers solve otherwise
        event("the walk gave up")
        return
    w_mv, seg_mv = _homotopy.min_variance(p.mu, p.cov, p.r, segments=segments)
    found = _homotopy.max_sharpe(p.mu, p.cov, p.r, 0.0, segments=segments)
    rng = np.random.default_rng(seed)
    guesses = [np.zeros(len(mu), dtype=int), rng.integers(-1, 2, len(mu)), seg_mv.state]
    for k, guess in enumerate(guesses):
        try:
            w, _ = _homotopy.settle(p.mu, p.cov, p.r, guess, lam=0.0)
        except _homotopy.PathFailed:
            assert k < 2, "the path's own active set must settle at once"
            continue
        np.testing.assert_allclose(w, w_mv, atol=1e-10)
    if found is None:
        return
    w_tan, seg_tan = found
    c0, c1 = _homotopy._peak(p.mu, p.cov, seg_tan, 0.0)
    moving = np.abs(seg_tan.w1).max() > 1e-12  # on a flat segment the weights do not move
    inside = moving and c1 < 0 and seg_tan.lo < -c0 / c1 < seg_tan.hi  # else: at a kink
    # a guess is a segment's active set: its weights' bounds and its general rows (a binding
    # group limit); without the rows a right guess could lose its peak (3 assets, g1 <= 0.5625)
    for guess in (seg_mv, seg_tan):
        try:
            w, _ = _homotopy.settle(p.mu, p.cov, p.r, guess.state,
                                    _homotopy.active_rows(p.r, guess), lam=None)
        except _homotopy.PathFailed:  # the menus then walk the path
            assert guess is not seg_tan or not inside
            continue
        sharpe = [x @ p.mu / np.sqrt(x @ p.cov @ x) for x in (w, w_tan)]
        assert sharpe[0] == pytest.approx(sharpe[1], rel=1e-12)
        np.testing.assert_allclose(w, w_tan, atol=1e-8)
