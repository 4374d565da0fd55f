"""Stress scenarios: bundled YAML, replay by hand, beta shocks, stressed VaR, skips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport import data
from autoport.errors import ConfigError, DataError
from autoport.risk import stress as S
from autoport.risk.var import normal_var_es


@pytest.fixture(scope="module")
def bundled():
    prices = data.bundled_prices()
    w = pd.Series(0.0, index=prices.columns)
    w[["AAPL", "JPM", "XOM", "JNJ"]] = [0.4, 0.3, 0.2, 0.1]
    return prices, w


def test_bundled_yaml_has_at_least_20_named_scenarios_of_every_kind():
    ss = S.load_scenarios()
    assert len(ss.scenarios) >= 20
    kinds = {s.kind for s in ss.scenarios}
    assert kinds == {"historical", "market", "sector", "volatility", "correlation"}
    names = {s.name for s in ss.scenarios}
    for expected in ("2008 Lehman", "2020 COVID crash", "Market -40%", "Stagflation"):
        assert expected in names


def test_bad_yaml_is_refused_with_the_scenario_name():
    with pytest.raises(ConfigError, match="(?i)'X' field foo: extra inputs"):
        S.parse_scenarios("scenarios:\n  - {name: X, kind: market, market_shock: -0.1, foo: 1}")
    with pytest.raises(ConfigError, match="needs market_shock"):
        S.parse_scenarios("scenarios:\n  - {name: Y, kind: market}")
    with pytest.raises(ConfigError, match="duplicate"):
        S.parse_scenarios(
            "scenarios:\n  - {name: Z, kind: market, market_shock: -0.1}\n"
            "  - {name: Z, kind: market, market_shock: -0.2}"
        )
    with pytest.raises(ConfigError, match="not valid YAML"):
        S.parse_scenarios("scenarios: [unclosed")


def run(text, prices, w, var=-0.02, **kw):
    return S.run_scenarios(
        S.parse_scenarios(text), prices, w, sectors=data.sector_map(), var=var, **kw
    )


def test_historical_replay_by_hand_and_skip_outside_data(bundled):
    prices, w = bundled
    res = run(
        "scenarios:\n"
        "  - {name: covid, kind: historical, start: 2020-02-19, end: 2020-03-23}\n"
        "  - {name: 1987, kind: historical, start: 1987-10-14, end: 1987-10-19}\n",
        prices,
        w,
    )
    covid = next(r for r in res if r.scenario == "covid")
    base = prices.loc["2020-02-18"]
    asset = prices.loc["2020-03-23"] / base - 1
    assert covid.pnl == pytest.approx(float(asset @ w), rel=1e-12)
    assert covid.var_breach
    skipped = next(r for r in res if r.scenario == "1987")
    assert skipped.skipped and "outside the prices" in skipped.note
    assert res[-1] is skipped  # sorted worst first, skipped last


def test_market_shock_through_betas(bundled):
    prices, w = bundled
    bench = data.bundled_benchmark()
    res = run(
        "scenarios:\n  - {name: m, kind: market, market_shock: -0.2}\n", prices, w, benchmark=bench
    )[0]
    rets = prices.pct_change().iloc[-252:]
    mkt = bench.pct_change().iloc[-252:]
    beta = {t: np.cov(rets[t], mkt)[0, 1] / np.var(mkt, ddof=1) for t in w.index}
    assert res.pnl == pytest.approx(sum(-0.2 * beta[t] * w[t] for t in w.index), rel=1e-9)


def test_sector_crash_and_asset_override(bundled):
    prices, w = bundled
    text = (
        "scenarios:\n  - name: s\n    kind: sector\n"
        "    sector_shocks: {Financials: -0.4, Energy: 0.1}\n    asset_shocks: {JNJ: -0.5}\n"
    )
    res = run(text, prices, w)[0]
    assert res.pnl == pytest.approx(0.3 * -0.4 + 0.2 * 0.1 + 0.1 * -0.5)
    assert [p["asset"] for p in res.worst_positions()] == ["JPM", "JNJ"]


def test_volatility_and_correlation_stress_are_stressed_normal_var(bundled):
    prices, w = bundled
    text = (
        "scenarios:\n  - {name: v, kind: volatility, vol_multiplier: 3}\n"
        "  - {name: c, kind: correlation, correlation: 1.0}\n"
    )
    res = {r.scenario: r for r in run(text, prices, w, estimation_window=500)}
    x = prices.pct_change().iloc[-500:][w.index].to_numpy()
    mu, cov = x.mean(0) @ w.to_numpy(), np.cov(x, rowvar=False)
    sd = np.sqrt(w.to_numpy() @ cov @ w.to_numpy())
    assert res["v"].pnl == pytest.approx(normal_var_es(mu, 3 * sd, 0.95)[0], rel=1e-9)
    # perfect correlation: portfolio volatility is the weighted sum of volatilities
    sd1 = np.sqrt(np.diag(cov)) @ w.to_numpy()
    assert res["c"].pnl == pytest.approx(normal_var_es(mu, sd1, 0.95)[0], rel=1e-9)
    # per-position split sums to the scenario P&L
    assert res["c"].position_pnl.sum() == pytest.approx(res["c"].pnl)
    # at a 10-day horizon the stressed VaR scales as the iid sum: 10 mu, sqrt(10) sigma
    ten = {r.scenario: r for r in run(text, prices, w, estimation_window=500, horizon=10)}
    assert ten["v"].pnl == pytest.approx(
        normal_var_es(10 * mu, 3 * np.sqrt(10) * sd, 0.95)[0], rel=1e-9
    )


def test_unknown_tickers_are_refused(bundled):
    prices, _ = bundled
    w = pd.Series({"AAPL": 0.5, "NOPE": 0.5})
    with pytest.raises(DataError, match="NOPE"):
        run("scenarios:\n  - {name: m, kind: market, market_shock: -0.1}\n", prices, w)


def test_worst_case_and_recommendations_follow_the_numbers(bundled):
    prices, w = bundled
    res = S.run_scenarios(
        S.load_scenarios(),
        prices,
        w,
        sectors=data.sector_map(),
        var=-0.02,
        benchmark=data.bundled_benchmark(),
    )
    worst = S.worst_case(res)
    assert worst["pnl"] == min(r.pnl for r in res if not r.skipped)
    comp = pd.Series(w * -0.05, index=w.index)
    recs = S.recommendations(res, w, component_var=comp, var=-0.02)
    conc = [r for r in recs if r["type"] == "concentration"]
    assert {r["asset"] for r in conc} == {"AAPL", "JPM", "XOM"}  # above 10%; JNJ is 10%
    reduce = [r for r in recs if r["type"] == "reduce_position"]
    assert reduce and reduce[0]["asset"] in {"AAPL", "JPM"}
    top = next(r for r in res if r.scenario == worst["scenario"])
    a = reduce[0]["asset"]
    assert reduce[0]["saving_in_worst_scenario"] == pytest.approx(-0.5 * top.position_pnl[a])
