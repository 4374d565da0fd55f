"""Euler attribution sums to the totals; marginals are derivatives; factors explain variance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from autoport.errors import DataError
from autoport.risk import attribution as A
from autoport.risk import var as V


@pytest.fixture(scope="module")
def panel():
    rng = np.random.default_rng(5)
    n = 6
    sd = np.linspace(0.008, 0.03, n)
    corr = np.full((n, n), 0.3) + 0.7 * np.eye(n)
    x = rng.multivariate_normal(np.full(n, 0.0003), corr * np.outer(sd, sd), size=2000)
    names = [f"A{i}" for i in range(n)]
    return pd.DataFrame(x, columns=names), np.array([0.3, 0.25, 0.15, 0.1, 0.1, 0.1])


def test_normal_components_sum_to_var_and_es(panel):
    x, w = panel
    att = A.normal_attribution(x, w, confidence=0.99, horizon=5)
    ref = V.parametric_var(x, w, confidence=0.99, horizon=5)
    assert att.var == pytest.approx(ref.var, rel=1e-12)
    assert att.table["component_var"].sum() == pytest.approx(ref.var, rel=1e-12)
    assert att.table["component_es"].sum() == pytest.approx(ref.expected_shortfall, rel=1e-12)
    assert att.table["pct_var"].sum() == pytest.approx(1.0)


def test_normal_marginal_is_the_derivative_of_var(panel):
    x, w = panel
    att = A.normal_attribution(x, w)
    eps = 1e-6
    for i in range(w.size):
        up, dn = w.copy(), w.copy()
        up[i] += eps
        dn[i] -= eps
        fd = (V.parametric_var(x, up).var - V.parametric_var(x, dn).var) / (2 * eps)
        assert att.table["marginal_var"].iloc[i] == pytest.approx(fd, rel=1e-5)


def test_incremental_is_full_revaluation(panel):
    x, w = panel
    att = A.normal_attribution(x, w)
    w0 = w.copy()
    w0[0] = 0.0
    expect = V.parametric_var(x, w).var - V.parametric_var(x, w0).var
    assert att.table["incremental_var"].iloc[0] == pytest.approx(expect, rel=1e-10)


@pytest.mark.parametrize(
    "method", ["historical", "historical_age_weighted", "monte_carlo", "monte_carlo_copula"]
)
def test_scenario_components_sum_to_var_and_es(panel, method):
    x, w = panel
    res = V.compute_var(method, x.to_numpy(), w, n_paths=20_000, seed=1)
    att = A.scenario_attribution(res, w, tickers=list(x.columns))
    assert att.table["component_es"].sum() == pytest.approx(res.expected_shortfall, rel=1e-9)
    assert att.table["component_var"].sum() == pytest.approx(res.var, rel=1e-9)


def test_historical_component_es_is_the_tail_mean_by_hand(panel):
    x, w = panel
    res = V.historical_var(x, w, confidence=0.95)
    rp = x.to_numpy() @ w
    k = int((rp.size - 1) * 0.05) + 1
    tail = np.argsort(rp)[:k]
    att = A.scenario_attribution(res, w, tickers=list(x.columns))
    np.testing.assert_allclose(att.table["component_es"], w * x.to_numpy()[tail].mean(0))


def test_sector_and_pca_decompositions(panel):
    x, w = panel
    att = A.normal_attribution(x, w)
    sectors = {"A0": "Tech", "A1": "Tech", "A2": "Energy", "A3": "Energy", "A4": "Health"}
    cov = np.cov(x.to_numpy(), rowvar=False)
    sec = A.sector_decomposition(att, sectors, cov=cov)
    assert set(sec.index) == {"Tech", "Energy", "Health", "Unknown"}
    assert sec["component_var"].sum() == pytest.approx(att.var)
    assert sec.loc["Tech", "component_var"] == pytest.approx(
        att.table.loc[["A0", "A1"], "component_var"].sum()
    )
    assert sec["variance_share"].sum() == pytest.approx(1.0)
    pca = A.pca_decomposition(x, w, n_factors=6)
    assert pca.portfolio_variance_share.sum() == pytest.approx(1.0)
    assert pca.explained_variance_ratio.sum() == pytest.approx(1.0)
    evals = np.sort(np.linalg.eigvalsh(cov))[::-1]
    np.testing.assert_allclose(pca.explained_variance_ratio, evals / evals.sum())
    three = A.pca_decomposition(x, w, n_factors=3)
    assert three.portfolio_variance_share.sum() + three.residual_share == pytest.approx(1.0)


def test_risk_budget_report(panel):
    x, w = panel
    att = A.normal_attribution(x, w)
    rep = A.risk_budget_report(att, sectors={"A0": "Tech", "A1": "Tech"})
    assets = rep["assets"]
    assert assets["budget"].sum() == pytest.approx(1.0)
    assert assets.loc["A0", "excess"] == pytest.approx(att.table.loc["A0", "pct_var"] - 1 / 6)
    assert rep["sectors"].loc["Tech", "budget"] == pytest.approx(2 / 6)
    w0 = w.copy()
    w0[[4, 5]] = [0.2, 0.0]
    held = A.risk_budget_report(A.normal_attribution(x, w0))["assets"]
    assert held.loc["A0", "budget"] == pytest.approx(1 / 5) and held.loc["A5", "budget"] == 0.0
    with pytest.raises(DataError, match="unknown asset"):
        A.risk_budget_report(att, budgets={"ZZZ": 1.0})


@settings(max_examples=30, deadline=None)
@given(
    raw=hst.lists(hst.floats(-1.0, 1.0), min_size=6, max_size=6).filter(
        lambda v: abs(sum(v)) > 0.1
    ),
    perm_seed=hst.integers(0, 1000),
)
def test_components_sum_and_permute_with_the_assets(panel, raw, perm_seed):
    x, _ = panel
    w = np.array(raw) / sum(raw)  # long-short books allowed, summing to 1
    att = A.normal_attribution(x, w, confidence=0.975)
    assert att.table["component_var"].sum() == pytest.approx(att.var, rel=1e-9, abs=1e-12)
    assert att.table["component_es"].sum() == pytest.approx(
        att.expected_shortfall, rel=1e-9, abs=1e-12
    )
    perm = np.random.default_rng(perm_seed).permutation(6)
    moved = A.normal_attribution(x.iloc[:, perm], w[perm], confidence=0.975)
    assert moved.var == pytest.approx(att.var, rel=1e-10)
    np.testing.assert_allclose(
        moved.table["component_var"].to_numpy(),
        att.table["component_var"].to_numpy()[perm],
        rtol=1e-8,
        atol=1e-14,
    )


def test_historical_incremental_revalues_on_the_same_scenarios(panel):
    x, w = panel
    res = V.historical_var(x, w)
    xs = x.to_numpy()
    att = A.scenario_attribution(
        res, w, tickers=list(x.columns), revalue=lambda wv: V.scenario_var_es(xs @ wv, 0.95)
    )
    w0 = w.copy()
    w0[2] = 0.0
    ref = V.historical_var(x, w0)
    assert att.table.loc["A2", "incremental_var"] == pytest.approx(res.var - ref.var, rel=1e-12)
    assert att.table.loc["A2", "incremental_es"] == pytest.approx(
        res.expected_shortfall - ref.expected_shortfall, rel=1e-12
    )
