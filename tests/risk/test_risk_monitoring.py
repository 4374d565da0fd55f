"""Correlation monitors against pandas, alert rules along a history, O(n^2) EWMA updates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport.errors import ConfigError
from autoport.risk import monitoring as M


def frame(n_obs=300, n=4, seed=0, rho=0.2):
    rng = np.random.default_rng(seed)
    corr = np.full((n, n), rho) + (1 - rho) * np.eye(n)
    x = rng.multivariate_normal(np.zeros(n), corr * 1e-4, size=n_obs)
    return pd.DataFrame(
        x, index=pd.bdate_range("2015-01-01", periods=n_obs), columns=list("ABCD")[:n]
    )


def test_rolling_correlations_match_pandas():
    x = frame()
    mine = M.rolling_correlations(x, 60)
    ref = x.rolling(60).corr().loc[x.index[-1]].to_numpy()
    np.testing.assert_allclose(mine[-1], ref, rtol=1e-10)
    avg = M.average_correlation_series(x, window=60)
    iu = np.triu_indices(4, 1)
    assert avg.iloc[-1] == pytest.approx(ref[iu].mean())
    assert avg.index[0] == x.index[59]


def test_average_correlation_series_matches_full_matrices():
    x = frame(n_obs=200, seed=4, rho=0.5)
    avg = M.average_correlation_series(x, window=40)
    np.testing.assert_allclose(avg.to_numpy(), M.average_pairwise(M.rolling_correlations(x, 40)))
    ew = M.average_correlation_series(x, method="ewma", lam=0.9)
    np.testing.assert_allclose(ew.to_numpy(), M.average_pairwise(M.ewma_correlations(x, 0.9)))
    assert ew.index[0] == x.index[19]


def test_ewma_correlation_recursion():
    x = frame(n_obs=60)
    c = M.ewma_correlations(x, lam=0.9)
    v = x.iloc[:20].to_numpy().T @ x.iloc[:20].to_numpy() / 20
    for r in x.iloc[20:].to_numpy():
        v = 0.9 * v + 0.1 * np.outer(r, r)
    sd = np.sqrt(np.diag(v))
    np.testing.assert_allclose(c[-1], v / np.outer(sd, sd))


def test_correlation_spike_alert_fires_when_correlation_jumps():
    calm, crisis = frame(300, rho=0.1, seed=1), frame(150, rho=0.95, seed=2)
    crisis.index = pd.bdate_range(calm.index[-1] + pd.offsets.BDay(), periods=150)
    x = pd.concat([calm, crisis])
    cfg = M.parse_alert_rules(
        "rules:\n  - {name: correlation_spike, metric: avg_correlation, limit: 0.8, window: 63,"
        " action: hedge}\n"
    )
    alerts = M.evaluate_alerts(cfg, portfolio_returns=x.mean(1), asset_returns=x)
    assert len(alerts) == 1
    a = alerts[0]
    assert a.rule == "correlation_spike" and a.action == "hedge" and a.limit == 0.8
    assert a.value > 0.8
    assert crisis.index[0] < a.date < crisis.index[63]


def test_drawdown_concentration_and_var_breach_alerts():
    idx = pd.bdate_range("2020-01-01", periods=6)
    r = pd.Series([0.0, -0.05, -0.07, 0.01, 0.2, -0.01], index=idx)
    cfg = M.load_alert_rules()  # bundled rules: drawdown -10%, weight 10%, corr 0.8
    weights = pd.DataFrame({"A": [0.5] * 6, "B": [0.05] * 6, "C": [0.45] * 6}, index=idx)
    var = pd.Series(-0.06, index=idx)
    alerts = M.evaluate_alerts(cfg, portfolio_returns=r, var_forecasts=var, weights=weights)
    dd = [a for a in alerts if a.rule == "drawdown_alert"]
    # drawdown after day 3: 0.95 * 0.93 - 1 = -11.65%: one episode, first day only
    assert [(a.date, round(a.value, 4)) for a in dd] == [(idx[2], -0.1165)]
    vb = [a for a in alerts if a.rule == "var_breach"]
    assert [a.date for a in vb] == [idx[2]] and vb[0].limit == -0.06
    conc = [a for a in alerts if a.rule == "concentration_risk"]
    assert {a.metric for a in conc} == {"weight:A", "weight:C"} and len(conc) == 12
    assert all(a.action for a in alerts)


def test_alert_yaml_rejects_unknown_keys_and_missing_limits():
    with pytest.raises(ConfigError, match="(?i)extra inputs"):
        M.parse_alert_rules("rules:\n  - {name: x, metric: drawdown, limit: -0.1, action: a, z: 1}")
    with pytest.raises(ConfigError, match="needs a limit"):
        M.parse_alert_rules("rules:\n  - {name: x, metric: drawdown, action: a}")
    names = {r.name for r in M.load_alert_rules().rules}
    assert names == {"var_breach", "drawdown_alert", "concentration_risk", "correlation_spike"}


def test_ewma_monitor_incremental_update_equals_refit():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((400, 30)) * 0.01
    mon = M.EwmaRiskMonitor(lam=0.94).fit(x[:399])
    mon.update(x[399])
    ref = M.EwmaRiskMonitor(lam=0.94).fit(x)
    # refit seeds with the mean square of all 400 days; the seed weight is 0.94^400 ~ 1e-11
    np.testing.assert_allclose(mon.cov_, ref.cov_, rtol=1e-8)
    w = np.full(30, 1 / 30)
    var, es = mon.var_es(w)
    assert var == pytest.approx(-1.6448536 * np.sqrt(w @ mon.cov_ @ w), rel=1e-6)
    assert es < var < 0
    lim = mon.check_limits(w, var_limit=-0.001)
    assert lim["var_limit_breached"] and lim["positions_over_limit"] == []
    assert lim["component_var"].sum() == pytest.approx(var)
