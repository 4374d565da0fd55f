"""The measures registry: its numpy value is the cvxpy optimum, and every (objective, measure)
pair gives admissible weights."""

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoport import measures as M
from autoport.measures import RiskMeasure
from autoport.optimize import Constraints, optimize
from autoport.optimize.objectives import ALIASES, ObjectiveFunction, optimize_pair


def panel(n: int = 5, t: int = 80, seed: int = 0):
    rng = np.random.default_rng(seed)
    scen = rng.normal(0.0004, 0.012, (t, n)) + rng.normal(0, 0.006, (t, 1))
    mu = pd.Series(scen.mean(0) * 252, index=[f"A{i}" for i in range(n)])
    cov = pd.DataFrame(np.cov(scen.T) * 252, index=mu.index, columns=mu.index)
    return mu, cov, pd.DataFrame(scen, columns=mu.index)


@pytest.mark.parametrize("measure", list(RiskMeasure))
def test_numpy_value_of_the_cvxpy_optimum_is_the_objective_value(measure):
    mu, cov, scen = panel()
    m = M.get(measure)
    w = cp.Variable(5)
    risk, aux = m.expression(w, cov.values, scen.values, 0.9)
    prob = cp.Problem(cp.Minimize(risk), [cp.sum(w) == 1, w >= 0, w <= 0.6, *aux])
    prob.solve(solver="CLARABEL")
    assert prob.status == cp.OPTIMAL
    assert m.value(w.value, cov.values, scen.values, 0.9) == pytest.approx(prob.value, abs=1e-6)


def test_tail_rule_by_hand():
    x = np.array([0.01, -0.02, 0.03, -0.04, 0.00])
    # a = 0.3 of 5 equally likely scenarios is mass 1.5 scenarios: all of −0.04 and half of
    # −0.02. VaR = −0.02 (cumulative 0.2 < 0.3 ≤ 0.4); ES = (−0.04 − 0.5·0.02) / 1.5 = −1/30
    var, es = M.var_es(x, 0.3)
    assert var == pytest.approx(-0.02) and es == pytest.approx(-1 / 30)
    # the same as the Rockafellar-Uryasev minimum over α of α + E[(L − α)⁺] / a (at α = 0.02)
    losses = -x
    ru = min(al + np.maximum(losses - al, 0).mean() / 0.3 for al in losses)
    assert M.cvar(x, 0.7) == pytest.approx(ru)
    assert var == np.quantile(x, 0.3, method="inverted_cdf")
    # drawdowns of the path 0.01, −0.01, 0.02, −0.02, −0.02 are 0, .02, 0, .04, .04
    np.testing.assert_allclose(M.drawdowns(x), [0, 0.02, 0, 0.04, 0.04], atol=1e-15)
    assert M.cdar(x, 0.7) == pytest.approx(0.04)
    assert M.max_drawdown(x) == pytest.approx(0.04)


@pytest.mark.parametrize("obj", list(ALIASES))
def test_user_names_are_aliases_of_pairs(obj):
    mu, cov, scen = panel(seed=1)
    alias = ALIASES[obj]
    if alias.kelly:
        pytest.skip("kelly drops the budget: not a plain pair")
    kwargs = {"target_return": float(mu.mean())} if alias.target_return == "required" else {}
    limit = None
    if alias.function == ObjectiveFunction.MAXIMIZE_RETURN:
        kwargs["target_volatility"] = 0.2
        limit = 0.04
    cons = Constraints(max_position=0.5)
    named = optimize(mu, cov, obj, cons, scenarios=scen, **kwargs)
    paired = optimize_pair(mu, cov, alias.function, alias.measure, cons, scenarios=scen,
                           target_return=kwargs.get("target_return"), risk_limit=limit)
    np.testing.assert_allclose(named.weights, paired.weights, atol=1e-7)


def _pairs():
    return [(f, m) for f in ObjectiveFunction for m in RiskMeasure]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(3, 6), cap=st.floats(0.4, 1.0))
def test_every_pair_gives_weights_summing_to_one_within_bounds(seed, n, cap):
    mu, cov, scen = panel(n=n, t=60, seed=seed)
    mu = mu - mu.min() + 0.05  # some asset beats rf = 0, so every ratio is defined
    cons = Constraints(max_position=cap)
    for fn, measure in _pairs():
        limit = None
        if fn == ObjectiveFunction.MAXIMIZE_RETURN:
            low = optimize_pair(mu, cov, ObjectiveFunction.MINIMIZE_RISK, measure, cons,
                                scenarios=scen).extra.get(measure.value)
            if low is None:  # variance is not among the scenario extras
                low = float(optimize_pair(mu, cov, ObjectiveFunction.MINIMIZE_RISK, measure,
                                          cons, scenarios=scen).volatility ** 2)
            limit = 1.2 * low + 1e-9
        res = optimize_pair(mu, cov, fn, measure, cons, scenarios=scen, risk_limit=limit)
        w = res.weights.to_numpy()
        assert w.sum() == pytest.approx(1.0, abs=1e-6), (fn, measure)
        assert (w >= -1e-7).all() and (w <= cap + 1e-7).all(), (fn, measure)
        if limit is not None:
            value = M.get(measure).value(w, cov.values, scen.values, 0.95)
            assert value <= limit * (1 + 1e-5) + 1e-9, (fn, measure)


def test_max_ratio_refuses_a_drawdown_cap_and_unknown_names():
    mu, cov, scen = panel()
    from autoport.errors import ConfigError

    with pytest.raises(ConfigError, match="max_ratio cannot take a max_drawdown"):
        optimize_pair(mu, cov, "max_ratio", "cvar", scenarios=scen, max_drawdown=0.1)
    with pytest.raises(ConfigError, match="unknown risk measure 'semivariance'"):
        optimize_pair(mu, cov, "min_risk", "semivariance", scenarios=scen)
    with pytest.raises(ConfigError, match="max_return needs a positive risk_limit"):
        optimize_pair(mu, cov, "max_return", "variance")
