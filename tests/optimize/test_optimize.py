"""Objectives against closed forms, PyPortfolioOpt's published figures and PyPortfolioOpt runs."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypfopt import EfficientCVaR, EfficientFrontier

from autoport import estimators as E
from autoport.data import bundled_prices, sector_map
from autoport.errors import ConfigError, InfeasibleError, OptimizationError
from autoport.optimize import (
    Constraints,
    Objective,
    add_cash,
    cdar_value,
    cvar_value,
    efficient_frontier,
    max_drawdown_value,
    optimize,
    risk_aversion_from_tolerance,
)

PEER = Path(__file__).parents[1] / "data" / "pypfopt_stock_prices.csv"
FREE = Constraints(lower=None, upper=None)


def random_problem(n: int = 8, seed: int = 0) -> tuple[pd.Series, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    cov = a @ a.T / n * 0.04 + np.diag(rng.uniform(0.01, 0.05, n))
    mu = rng.uniform(0.02, 0.15, n)
    tickers = [f"T{i}" for i in range(n)]
    return pd.Series(mu, index=tickers), pd.DataFrame(cov, index=tickers, columns=tickers)


# ----------------------------------------------------------------------------- closed forms


def test_unconstrained_min_variance_closed_form():
    mu, cov = random_problem()
    inv_one = np.linalg.solve(cov, np.ones(8))
    expected = inv_one / inv_one.sum()
    got = optimize(mu, cov, "min_variance", FREE)
    np.testing.assert_allclose(got.weights, expected, atol=1e-7)
    assert got.volatility == pytest.approx(1 / np.sqrt(inv_one.sum()), rel=1e-9)


def test_unconstrained_tangency_closed_form():
    mu, cov = random_problem(seed=1)
    rf = 0.01
    z = np.linalg.solve(cov, mu - rf)
    assert z.sum() > 0
    got = optimize(mu, cov, "max_sharpe", FREE, risk_free_rate=rf)
    np.testing.assert_allclose(got.weights, z / z.sum(), atol=1e-7)
    best = np.sqrt((mu - rf) @ z)  # the maximal Sharpe ratio √((μ−rf)ᵀΣ⁻¹(μ−rf))
    assert got.sharpe_ratio == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("fraction", [1.0, 0.5])
def test_unconstrained_kelly_closed_form(fraction):
    mu, cov = random_problem(seed=2)
    rf = 0.02
    got = optimize(mu, cov, "kelly", FREE, risk_free_rate=rf, kelly_fraction=fraction)
    np.testing.assert_allclose(got.weights, fraction * np.linalg.solve(cov, mu - rf), atol=1e-6)


def test_quadratic_utility_closed_form_with_budget():
    # max μᵀw − δ/2 wᵀΣw s.t. 1ᵀw = 1: w = Σ⁻¹(μ − γ1)/δ with γ making the weights sum to 1
    mu, cov = random_problem(seed=4)
    delta = 3.0
    inv_mu = np.linalg.solve(cov, mu)
    inv_one = np.linalg.solve(cov, np.ones(8))
    gamma = (inv_mu.sum() - delta) / inv_one.sum()
    expected = (inv_mu - gamma * inv_one) / delta
    got = optimize(mu, cov, "max_utility", FREE, risk_aversion=delta)
    np.testing.assert_allclose(got.weights, expected, atol=1e-7)


def test_risk_tolerance_mapping():
    assert risk_aversion_from_tolerance(0.0) == pytest.approx(100.0)
    assert risk_aversion_from_tolerance(0.5) == pytest.approx(10**0.5)
    assert risk_aversion_from_tolerance(1.0) == pytest.approx(0.1)
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        risk_aversion_from_tolerance(1.5)


# ---------------------------------------------- PyPortfolioOpt's published figures (their tests)


@pytest.fixture(scope="module")
def peer():
    prices = pd.read_csv(PEER, index_col=0, parse_dates=True)
    return prices, E.mean_return(prices), E.sample_cov(prices)


def _perf(res, rf=0.02):
    return res.expected_return, res.volatility, (res.expected_return - rf) / res.volatility


PEER_CASES = [
    ("min_variance", Constraints(), {},
     (0.15056821399482578, 0.15915084514118694, 0.8204054077060996)),
    ("min_variance", FREE, {}, (0.1516319319875544, 0.1555915367269669, 0.8460095886741129)),
    ("max_sharpe", Constraints(), {"risk_free_rate": 0.02},
     (0.3047768672819914, 0.22165566922402932, 1.2847714127003216)),
    ("max_sharpe", FREE, {"risk_free_rate": 0.02},
     (0.4937195216716211, 0.29516576454651955, 1.6049270564945908)),
    ("max_utility", Constraints(), {"risk_aversion": 2},
     (0.3677732711751504, 0.2921342197778279, 1.1904571516463793)),
    ("efficient_risk", Constraints(), {"target_volatility": 0.19},
     (0.2552422849133517, 0.19, 1.2381172871434818)),
    ("efficient_risk", Constraints(lower=-1, upper=1), {"target_volatility": 0.19},
     (0.30035471606347336, 0.19, 1.4755511348079207)),
    ("efficient_return", Constraints(), {"target_return": 0.25},
     (0.25, 0.18723269942026335, 1.2284179030274036)),
]


@pytest.mark.parametrize(("objective", "constraints", "kwargs", "expected"), PEER_CASES)
def test_pypfopt_published_figures(peer, objective, constraints, kwargs, expected):
    _, mu, cov = peer
    res = optimize(mu, cov, objective, constraints, **kwargs)
    np.testing.assert_allclose(_perf(res), expected, rtol=1e-6, atol=1e-8)
    assert res.solver == "CLARABEL"


def test_pypfopt_published_min_cvar(peer):
    prices, mu, cov = peer
    scenarios = prices.pct_change(fill_method=None).dropna()
    res = optimize(mu, cov, "min_cvar", scenarios=scenarios, beta=0.95)
    assert res.expected_return == pytest.approx(0.17745746040573562, rel=1e-6)
    assert res.extra["cvar"] == pytest.approx(0.017049502122532853, rel=1e-6)


# ------------------------------------------------------------- PyPortfolioOpt run in the test


@pytest.fixture(scope="module")
def bundled():
    prices = bundled_prices().iloc[-757:]
    return prices, E.mean_return(prices), E.ledoit_wolf_cov(prices)


def _pypfopt(mu, cov, bounds=(0, 1)):
    return EfficientFrontier(mu, cov, weight_bounds=bounds, solver="CLARABEL")


@pytest.mark.parametrize(
    ("objective", "kwargs", "call"),
    [
        ("min_variance", {}, lambda ef: ef.min_volatility()),
        ("max_sharpe", {"risk_free_rate": 0.02}, lambda ef: ef.max_sharpe(risk_free_rate=0.02)),
        ("efficient_return", {"target_return": 0.25}, lambda ef: ef.efficient_return(0.25)),
        ("efficient_risk", {"target_volatility": 0.22}, lambda ef: ef.efficient_risk(0.22)),
    ],
)
def test_agrees_with_pypfopt_on_bundled_data(bundled, objective, kwargs, call):
    _, mu, cov = bundled
    ef = _pypfopt(mu, cov, (0, 0.25))
    call(ef)
    w_peer = pd.Series(ef.weights, index=mu.index)
    rf = kwargs.get("risk_free_rate", 0)
    ret_p, vol_p, sharpe_p = ef.portfolio_performance(risk_free_rate=rf)
    res = optimize(mu, cov, objective, Constraints(max_position=0.25), **kwargs)
    np.testing.assert_allclose(res.weights, w_peer, atol=1e-4)
    value = {
        "min_variance": (res.volatility, vol_p),
        "max_sharpe": (res.sharpe_ratio, sharpe_p),
        "efficient_return": (res.volatility, vol_p),
        "efficient_risk": (res.expected_return, ret_p),
    }[objective]
    assert value[0] == pytest.approx(value[1], rel=1e-6)
    # ours is never worse on the objective itself
    if objective in ("min_variance", "efficient_return"):
        assert res.volatility <= vol_p * (1 + 1e-8)


def test_agrees_with_pypfopt_with_sector_limits(bundled):
    _, mu, cov = bundled
    sectors = sector_map()
    lower = {"Health Care": 0.2}
    upper = {"Information Technology": 0.2, "Energy": 0.1}
    ef = _pypfopt(mu, cov, (0, 0.2))
    ef.add_sector_constraints(sectors, lower, upper)
    ef.max_sharpe(risk_free_rate=0.01)
    _, _, sharpe_p = ef.portfolio_performance(risk_free_rate=0.01)
    cons = Constraints(max_position=0.2, groups=sectors, group_min=lower, group_max=upper)
    res = optimize(mu, cov, "max_sharpe", cons, risk_free_rate=0.01)
    assert res.sharpe_ratio == pytest.approx(sharpe_p, rel=1e-6)
    np.testing.assert_allclose(res.weights, pd.Series(ef.weights, index=mu.index), atol=1e-4)
    w = res.weights
    tech = sum(w[t] for t, s in sectors.items() if s == "Information Technology")
    health = sum(w[t] for t, s in sectors.items() if s == "Health Care")
    assert tech <= 0.2 + 1e-8 and health >= 0.2 - 1e-8


def test_min_cvar_agrees_with_pypfopt_efficient_cvar(bundled):
    prices, mu, cov = bundled
    scenarios = prices.pct_change().dropna()
    peer = EfficientCVaR(mu, scenarios, beta=0.9, solver="CLARABEL")
    peer.efficient_return(0.15)
    _, cvar_p = peer.portfolio_performance()
    res = optimize(mu, cov, "min_cvar", scenarios=scenarios, beta=0.9, target_return=0.15)
    assert res.extra["cvar"] == pytest.approx(cvar_p, rel=1e-6)


# ------------------------------------------------------------------------- scenario measures


def test_cvar_and_cdar_by_hand():
    scen = np.array([[0.01], [-0.02], [0.03], [-0.04], [0.00]])
    w = np.array([1.0])
    # β = 0.6 over 5 scenarios: the worst 40 % are losses 0.04 and 0.02 → CVaR 0.03
    assert cvar_value(w, scen, 0.6) == pytest.approx(0.03)
    # path 0.01, -0.01, 0.02, -0.02, -0.02: drawdowns 0, .02, 0, .04, .04; max 0.04
    assert max_drawdown_value(w, scen) == pytest.approx(0.04)
    assert cdar_value(w, scen, 0.6) == pytest.approx(0.04)


def test_min_cdar_and_drawdown_cap(bundled):
    prices, mu, cov = bundled
    scen = prices.pct_change().dropna()
    cd = optimize(mu, cov, "min_cdar", scenarios=scen, beta=0.95)
    mv = optimize(mu, cov, "min_variance", scenarios=scen, beta=0.95)
    assert cd.extra["cdar"] <= mv.extra["cdar"] + 1e-9
    cap = 0.9 * optimize(mu, cov, "max_sharpe", scenarios=scen).extra["max_drawdown"]
    limited = optimize(mu, cov, "max_utility", scenarios=scen, risk_aversion=2, max_drawdown=cap)
    assert limited.extra["max_drawdown"] <= cap + 1e-8


def test_multi_objective_reduces_to_single_objectives(bundled):
    prices, mu, cov = bundled
    scen = prices.pct_change().dropna()
    mv = optimize(mu, cov, "min_variance")
    mo = optimize(mu, cov, "multi_objective", objective_weights={"return": 0, "variance": 1})
    np.testing.assert_allclose(mo.weights, mv.weights, atol=1e-5)
    ut = optimize(mu, cov, "max_utility", risk_aversion=4)
    mo2 = optimize(mu, cov, "multi_objective", objective_weights={"return": 1, "variance": 2})
    np.testing.assert_allclose(mo2.weights, ut.weights, atol=1e-5)
    cd = optimize(mu, cov, "min_cdar", scenarios=scen)
    mo3 = optimize(mu, cov, "multi_objective", scenarios=scen,
                   objective_weights={"return": 0, "variance": 0, "cdar": 1})
    assert mo3.extra["cdar"] == pytest.approx(cd.extra["cdar"], rel=1e-6)


# ---------------------------------------------------------------- infeasibility and messages


def test_max_sharpe_below_risk_free_says_so_and_offers_min_variance(bundled):
    _, mu, cov = bundled
    with pytest.raises(OptimizationError, match="max Sharpe is undefined.*min_variance"):
        optimize(mu, cov, "max_sharpe", risk_free_rate=mu.max() + 0.01)
    res = optimize(mu, cov, "max_sharpe", risk_free_rate=mu.max() + 0.01,
                   fallback_to_min_variance=True)
    mv = optimize(mu, cov, "min_variance")
    np.testing.assert_allclose(res.weights, mv.weights, atol=1e-8)
    assert res.objective == "min_variance"
    assert any("max Sharpe is undefined" in n for n in res.notes)


def test_position_cap_below_one_over_n(bundled):
    _, mu, cov = bundled
    with pytest.raises(InfeasibleError, match="max_position must be at least 0.05"):
        optimize(mu, cov, "min_variance", Constraints(max_position=0.04))


def test_sector_minimum_beyond_caps_is_named(bundled):
    _, mu, cov = bundled
    cons = Constraints(max_position=0.1, groups=sector_map(), group_min={"Energy": 0.35})
    with pytest.raises(InfeasibleError, match="group Energy minimum 0.35 .* sum to 0.3"):
        optimize(mu, cov, "max_sharpe", cons)


def test_solver_diagnosis_names_the_conflicting_pair(bundled):
    _, mu, cov = bundled
    tickers = list(mu.index)
    cons = Constraints(
        groups=sector_map(), group_min={"Energy": 0.3},
        current_weights={t: 1 / 20 for t in tickers}, max_turnover=0.2,
        group_max={"Financials": 0.5},
    )
    with pytest.raises(InfeasibleError) as info:
        optimize(mu, cov, "min_variance", cons)
    message = str(info.value)
    assert "group Energy ≥ 0.3" in message and "turnover ≤ 0.2" in message
    assert "Financials" not in message  # not part of the conflict


def test_target_return_out_of_reach_is_named(bundled):
    _, mu, cov = bundled
    with pytest.raises(InfeasibleError, match="target return ≥ 2"):
        optimize(mu, cov, "efficient_return", target_return=2.0)


def test_esg_minimum_out_of_reach(bundled):
    _, mu, cov = bundled
    scores = {t: float(i) for i, t in enumerate(mu.index)}
    with pytest.raises(InfeasibleError, match="minimum ESG score 19.5 is out of reach"):
        optimize(mu, cov, "min_variance",
                 Constraints(esg_scores=scores, min_esg=19.5, max_position=0.5))
    res = optimize(mu, cov, "min_variance",
                   Constraints(esg_scores=scores, min_esg=15, max_position=0.5))
    assert res.weights.to_numpy() @ np.arange(20) >= 15 - 1e-7


def test_unknown_names_are_refused(bundled):
    _, mu, cov = bundled
    with pytest.raises(ConfigError, match="unknown objective 'max_fun'"):
        optimize(mu, cov, "max_fun")
    with pytest.raises(ConfigError, match="exclusion list names unknown ticker"):
        optimize(mu, cov, "min_variance", Constraints(exclude=["NOPE"]))
    with pytest.raises(ConfigError, match="hold none of the assets"):
        optimize(mu, cov, "min_variance", Constraints(groups=sector_map(), group_max={"Nope": 1}))
    with pytest.raises(ConfigError, match="needs target_return"):
        optimize(mu, cov, "efficient_return")


# ------------------------------------------------------------- constraints that change answers


def test_exclusion_turnover_costs_leverage_and_cash(bundled):
    _, mu, cov = bundled
    tickers = list(mu.index)
    ms = optimize(mu, cov, "max_sharpe")
    top = ms.weights.idxmax()
    ex = optimize(mu, cov, "max_sharpe", Constraints(exclude=[top]))
    assert ex.weights[top] == 0 and ex.sharpe_ratio < ms.sharpe_ratio

    w0 = {t: 1 / 20 for t in tickers}
    tv = optimize(mu, cov, "max_sharpe", Constraints(current_weights=w0, max_turnover=0.3))
    assert np.abs(tv.weights - pd.Series(w0)).sum() <= 0.3 + 1e-8

    cheap = optimize(mu, cov, "max_utility", Constraints(current_weights=w0), risk_aversion=10)
    dear = optimize(mu, cov, "max_utility",
                    Constraints(current_weights=w0, transaction_cost=0.05), risk_aversion=10)
    assert dear.extra["turnover"] < np.abs(cheap.weights - pd.Series(w0)).sum() - 0.3
    assert dear.extra["transaction_cost"] == pytest.approx(0.05 * dear.extra["turnover"])

    lev = optimize(mu, cov, "max_sharpe", Constraints(lower=-0.5, upper=1, max_leverage=1.4))
    assert lev.weights.abs().sum() <= 1.4 + 1e-8 and lev.weights.min() < 0

    mu_c, cov_c = add_cash(mu, cov, 0.03)
    cash = optimize(mu_c, cov_c, "max_utility", risk_aversion=50, risk_free_rate=0.03)
    assert cash.weights["CASH"] > 0.2
    assert cash.weights.sum() == pytest.approx(1, abs=1e-9)


def test_solver_fallback_reports_who_answered(bundled):
    _, mu, cov = bundled
    # OSQP cannot take the second-order cone of a volatility target: Clarabel answers next
    res = optimize(mu, cov, "efficient_risk", target_volatility=0.2,
                   solver_chain=("OSQP", "CLARABEL"))
    assert res.solver == "CLARABEL"
    assert res.attempts[0].startswith("OSQP:") and res.attempts[-1] == "CLARABEL: optimal"
    assert any("solver fallback" in n for n in res.notes)


def test_concentration_note(bundled):
    _, mu, cov = bundled
    res = optimize(mu, cov, "max_sharpe")
    assert res.weights.max() > 0.10
    assert any("concentration" in n for n in res.notes)
    capped = optimize(mu, cov, "max_sharpe", Constraints(max_position=0.1))
    assert capped.weights.max() <= 0.1 + 1e-9
    assert not any("concentration" in n for n in capped.notes)


# ------------------------------------------------------------------------------ the frontier


def test_frontier_matches_pypfopt_point_by_point(bundled):
    _, mu, cov = bundled
    front = efficient_frontier(mu, cov, n_points=25, risk_free_rate=0.02)
    assert len(front.returns) == 25
    mv = optimize(mu, cov, "min_variance")
    np.testing.assert_allclose(front.weights.iloc[0], mv.weights, atol=1e-6)
    assert front.returns[-1] == pytest.approx(mu.max(), rel=1e-6)  # long-only top: best asset
    assert np.all(np.diff(front.volatilities) >= -1e-10)
    assert np.all(np.diff(front.returns) > 0)
    base = _pypfopt(mu, cov)
    for k in (3, 12, 20):
        ef = copy.deepcopy(base)
        ef.efficient_return(front.returns[k])
        _, vol_p, _ = ef.portfolio_performance()
        assert front.volatilities[k] == pytest.approx(vol_p, rel=1e-6)
    assert front.tangency is not None
    assert front.tangency.sharpe_ratio >= np.nanmax(front.sharpe) - 1e-9
    frame = front.to_frame()
    assert list(frame.columns[:3]) == ["return", "volatility", "sharpe"]
    np.testing.assert_allclose(frame.iloc[:, 3:].sum(axis=1), 1.0, atol=1e-8)


def test_frontier_point_limits(bundled):
    _, mu, cov = bundled
    with pytest.raises(ConfigError, match="between 2 and 1000"):
        efficient_frontier(mu, cov, n_points=1001)


def test_objective_enum_aliases():
    assert Objective.parse("min_volatility") is Objective.MIN_VARIANCE
    assert Objective.parse("erc") is Objective.RISK_PARITY


@pytest.mark.parametrize(
    "constraints",
    [
        Constraints(),
        Constraints(max_position=0.15),
        Constraints(max_position=0.2, groups=sector_map(),
                    group_max={"Information Technology": 0.2, "Energy": 0.1},
                    group_min={"Health Care": 0.2}),
        Constraints(lower=-0.2, upper=0.5),
        Constraints(esg_scores={t: 10.0 + 4 * i for i, t in enumerate(sector_map())},
                    min_esg=55),
    ],
    ids=["long-only", "cap", "sectors", "shorts", "esg"],
)
def test_exact_path_equals_pointwise_solves(bundled, constraints):
    _, mu, cov = bundled
    exact = efficient_frontier(mu, cov, constraints, n_points=40, method="homotopy")
    assert exact.solver == "critical-line homotopy"
    conic = efficient_frontier(mu, cov, constraints, n_points=40, method="pointwise")
    assert conic.solver == "CLARABEL"
    np.testing.assert_allclose(exact.returns, conic.returns, rtol=1e-7)
    np.testing.assert_allclose(exact.volatilities, conic.volatilities, rtol=1e-7)
    np.testing.assert_allclose(exact.weights, conic.weights, atol=2e-4)
    # the path's own min-variance and tangency points (no conic solve) against Clarabel's
    assert exact.min_variance.solver == "critical-line homotopy"
    assert exact.min_variance.volatility == pytest.approx(conic.min_variance.volatility, rel=1e-7)
    assert exact.tangency.solver == "critical-line homotopy"
    assert exact.tangency.sharpe_ratio == pytest.approx(conic.tangency.sharpe_ratio, rel=1e-8)
    assert exact.tangency.sharpe_ratio >= conic.tangency.sharpe_ratio - 1e-12


def test_frontier_with_turnover_falls_back_to_pointwise(bundled):
    _, mu, cov = bundled
    cons = Constraints(current_weights={t: 0.05 for t in mu.index}, max_turnover=0.8)
    front = efficient_frontier(mu, cov, cons, n_points=10)
    assert front.solver == "CLARABEL"
    w0 = np.full(20, 0.05)
    assert np.all(np.abs(front.weights.to_numpy() - w0).sum(1) <= 0.8 + 1e-7)


def _synthetic(n: int, seed: int = 5) -> tuple[pd.Series, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0.6, 0.5, (n, 4))
    rets = (rng.normal(0.0003, 0.008, (750, 4)) @ loadings.T
            + rng.normal(0, 0.015, (750, n)) + rng.normal(0, 2e-4, n))
    tickers = [f"S{i}" for i in range(n)]
    cov = pd.DataFrame(np.cov(rets, rowvar=False) * 252, index=tickers, columns=tickers)
    return pd.Series(rets.mean(0) * 252, index=tickers), cov


def test_working_set_max_sharpe_equals_the_direct_solve(monkeypatch):
    from autoport.optimize import _screening

    mu, cov = _synthetic(400)
    sectors = {t: f"g{i % 4}" for i, t in enumerate(mu.index)}
    cons = Constraints(max_position=0.03, groups=sectors, group_max={"g0": 0.2},
                       group_min={"g1": 0.3})
    fast = optimize(mu, cov, "max_sharpe", cons, risk_free_rate=0.01)
    assert any("working set" in n for n in fast.notes)
    monkeypatch.setattr(_screening, "MIN_ASSETS", 10**9)
    direct = optimize(mu, cov, "max_sharpe", cons, risk_free_rate=0.01)
    assert not any("working set" in n for n in direct.notes)
    assert fast.sharpe_ratio == pytest.approx(direct.sharpe_ratio, rel=1e-8)
    np.testing.assert_allclose(fast.weights, direct.weights, atol=1e-6)
    g1 = sum(fast.weights[t] for t, g in sectors.items() if g == "g1")
    assert g1 >= 0.3 - 1e-8 and fast.weights.max() <= 0.03 + 1e-9


def test_exact_path_on_many_assets_matches_pointwise():
    mu, cov = _synthetic(300, seed=6)
    exact = efficient_frontier(mu, cov, n_points=12, method="homotopy")
    conic = efficient_frontier(mu, cov, n_points=12, method="pointwise")
    np.testing.assert_allclose(exact.volatilities, conic.volatilities, rtol=1e-6)


def test_exact_path_with_a_cash_line_is_the_capital_market_line(bundled):
    # zero-variance cash makes Σ singular; the path switches to dense KKT solves. Without caps
    # the frontier is the line from cash through the tangency portfolio of the risky assets.
    _, mu, cov = bundled
    mu_c, cov_c = add_cash(mu, cov, 0.03)
    exact = efficient_frontier(mu_c, cov_c, n_points=30, risk_free_rate=0.03, method="homotopy")
    conic = efficient_frontier(mu_c, cov_c, n_points=30, risk_free_rate=0.03, method="pointwise")
    # the path's minimum-variance point is all cash exactly; the conic one keeps a trace of
    # risky assets (volatility ~1e-5), which shifts its equally spaced targets: compare the two
    # at matched returns on the line (where volatility is linear in return) and at the top
    assert exact.volatilities[0] == 0.0 and exact.returns[0] == pytest.approx(0.03, abs=1e-15)
    assert exact.returns[-1] == pytest.approx(conic.returns[-1], rel=1e-8)
    line_top = exact.returns[(exact.weights["CASH"] > 1e-6).to_numpy()].max()
    inner = conic.returns <= line_top
    assert inner.sum() >= 5
    np.testing.assert_allclose(
        np.interp(conic.returns[inner], exact.returns, exact.volatilities) ** 2,
        conic.volatilities[inner] ** 2, atol=1e-9)
    assert exact.weights["CASH"].iloc[0] == pytest.approx(1.0)
    tangency = optimize(mu, cov, "max_sharpe", risk_free_rate=0.03)
    on_line = exact.weights["CASH"] > 1e-6  # points that still hold cash lie on the CML
    slope = (exact.returns[on_line][1:] - 0.03) / exact.volatilities[on_line][1:]
    np.testing.assert_allclose(slope, tangency.sharpe_ratio, rtol=1e-7)
    on_line_c = (conic.weights["CASH"] > 1e-3).to_numpy()  # the conic points lie on it too
    slope_c = (conic.returns[on_line_c][1:] - 0.03) / conic.volatilities[on_line_c][1:]
    np.testing.assert_allclose(slope_c, tangency.sharpe_ratio, rtol=1e-6)


def test_every_solver_failing_is_reported(bundled):
    _, mu, cov = bundled
    with pytest.raises(OptimizationError, match="every solver failed: OSQP: "):
        optimize(mu, cov, "efficient_risk", target_volatility=0.2, solver_chain=("OSQP",))
    with pytest.raises(OptimizationError, match="none of the solvers NOPE is installed"):
        optimize(mu, cov, "min_variance", solver_chain=("NOPE",))


def test_inputs_are_aligned_by_ticker(bundled):
    _, mu, cov = bundled
    shuffled = cov.iloc[::-1, ::-1]
    a = optimize(mu, cov, "max_sharpe")
    b = optimize(mu, shuffled, "max_sharpe")
    np.testing.assert_allclose(a.weights, b.weights[a.weights.index], atol=1e-9)
    with pytest.raises(ConfigError, match="different tickers"):
        optimize(mu.rename({"AAPL": "ZZZ"}), cov, "min_variance")
