"""VaR backtests: Kupiec and Christoffersen by hand, causality, coverage on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from autoport import data
from autoport.risk import var_backtest as B


def test_kupiec_by_hand():
    t, x, p = 1000, 65, 0.05
    lr = -2 * ((t - x) * np.log(1 - p) + x * np.log(p)) + 2 * (
        (t - x) * np.log(1 - x / t) + x * np.log(x / t)
    )
    res = B.kupiec_pof(x, t, 0.95)
    assert res.statistic == pytest.approx(lr, rel=1e-12)
    assert res.statistic == pytest.approx(
        4.34545, abs=1e-4
    )  # 2[935 ln(.95/.935) + 65 ln(.05/.065)]
    assert res.pvalue == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-12)
    assert B.kupiec_pof(50, 1000, 0.95).statistic == pytest.approx(0.0, abs=1e-12)
    # zero breaches: LR = -2 T ln(1 - p)
    assert B.kupiec_pof(0, 250, 0.99).statistic == pytest.approx(-2 * 250 * np.log(0.99))


def test_christoffersen_by_hand():
    hits = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0], dtype=bool)
    # transitions: n00=6, n01=3, n10=3, n11=3
    n00, n01, n10, n11 = 6, 3, 3, 3
    p01, p11, p = n01 / (n00 + n01), n11 / (n10 + n11), (n01 + n11) / 15
    ll0 = (n00 + n10) * np.log(1 - p) + (n01 + n11) * np.log(p)
    ll1 = n00 * np.log(1 - p01) + n01 * np.log(p01) + n10 * np.log(1 - p11) + n11 * np.log(p11)
    res = B.christoffersen_independence(hits)
    assert res.statistic == pytest.approx(-2 * (ll0 - ll1), rel=1e-12)
    assert res.pvalue == pytest.approx(stats.chi2.sf(-2 * (ll0 - ll1), 1))


@pytest.mark.parametrize("model", B.BACKTEST_MODELS)
def test_forecasts_are_causal(model):
    rng = np.random.default_rng(0)
    r = pd.Series(rng.standard_normal(700) * 0.01, index=pd.bdate_range("2010-01-01", periods=700))
    var, _ = B.rolling_forecasts(r, model=model, window=250)
    cut = 500
    shuffled = r.copy()
    shuffled.iloc[cut:] = rng.permutation(shuffled.iloc[cut:].to_numpy()) * 3
    var2, _ = B.rolling_forecasts(shuffled, model=model, window=250)
    # forecasts up to and including day `cut` use only returns before it
    upto = r.index[cut]
    pd.testing.assert_series_equal(var.loc[:upto], var2.loc[:upto])
    assert not np.allclose(var.iloc[-50:], var2.iloc[-50:])


def test_historical_forecast_is_window_quantile():
    rng = np.random.default_rng(1)
    r = pd.Series(rng.standard_normal(400) * 0.01)
    var, es = B.rolling_forecasts(r, model="historical", window=100)
    # the one tail rule (autoport.measures): VaR is numpy's inverted_cdf quantile; with 100
    # days at 95% the tail is exactly the 5 worst days, so ES is their mean
    first, last = r.iloc[:100].to_numpy(), r.iloc[-101:-1].to_numpy()
    assert var.iloc[0] == pytest.approx(np.quantile(first, 0.05, method="inverted_cdf"))
    assert es.iloc[0] == pytest.approx(np.sort(first)[:5].mean())
    assert var.index[0] == 100
    assert var.iloc[-1] == pytest.approx(np.quantile(last, 0.05, method="inverted_cdf"))
    assert es.iloc[-1] == pytest.approx(np.sort(last)[:5].mean())
    # a fractional tail (99% of 250 days: 2.5 days) is the same rule as measures.var_es
    from autoport.measures import var_es
    var99, es99 = B.rolling_forecasts(r, model="historical", window=250, confidence=0.99)
    assert (var99.iloc[3], es99.iloc[3]) == pytest.approx(var_es(r.iloc[3:253].to_numpy(), 0.01))


def test_iid_normal_coverage():
    rng = np.random.default_rng(2)
    r = pd.Series(rng.standard_normal(6000) * 0.01)
    res = B.backtest_var(r, model="normal", window=500)
    assert 0.045 < res.breach_rate < 0.056
    assert res.kupiec.pvalue > 0.01


def test_default_model_on_bundled_data_keeps_breach_rate_near_five_percent():
    prices = data.bundled_prices()
    rp = data.simple_returns(prices).mean(axis=1)  # equal weight, rebalanced daily
    res = B.backtest_var(rp)
    s = res.summary()
    assert s["method"] == "filtered_historical"
    assert s["observations"] == 7792
    assert 0.045 <= s["breach_rate"] <= 0.055  # measured 5.29%
    assert s["kupiec_pvalue"] > 0.05
    assert s["christoffersen_pvalue"] > 0.05
    # the breaches the tests count are exactly realised < forecast
    assert s["breaches"] == int((res.realised < res.var).sum())
