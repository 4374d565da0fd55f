"""The incremental state equals a from-scratch computation on the same data, bar after bar.

References are independent of the update path: the EWMA covariance in closed form (numpy),
filtered historical VaR/ES from ``var_backtest.rolling_forecasts`` on the book's return series
built from scratch, drawdown from ``monitoring.drawdown``, average correlation from
``average_correlation_series`` and the normal quantile from scipy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from autoport.errors import ConfigError
from autoport.monitor import LiveAlerts, LiveRisk, resolve_horizon
from autoport.risk.monitoring import (
    average_correlation_series,
    drawdown,
    evaluate_alerts,
    parse_alert_rules,
)
from autoport.risk.var_backtest import rolling_forecasts

LAM, FHS, CORR, CONF = 0.94, 40, 30, 0.95


def _panel(seed: int = 0, n: int = 6, t_hist: int = 100, t_live: int = 50, factor: float = 0.0):
    """Independent returns in the history; live returns get a common factor of ``factor``."""
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0005, 0.015, size=(t_hist + t_live, n))
    r[t_hist:] += factor * rng.normal(0.0, 0.02, size=(t_live, 1))
    p = 50.0 * np.vstack([np.ones(n), np.cumprod(1.0 + r, axis=0)])
    idx = pd.bdate_range("2023-01-02", periods=p.shape[0])
    return pd.DataFrame(p, index=idx, columns=[f"A{i}" for i in range(n)]), t_hist + 1


def _book_returns(r: np.ndarray, w0: np.ndarray, t_hist: int) -> tuple[np.ndarray, np.ndarray]:
    """Constant weights over the history, then buy and hold: (book returns, weights after)."""
    rp_hist = r[:t_hist] @ w0
    growth = np.cumprod(1.0 + r[t_hist:], axis=0)  # value of each position per unit held
    held = w0 * np.vstack([np.ones(w0.size), growth])  # before each live bar, then after
    rp_live = (held[1:].sum(1) + (1 - w0.sum())) / (held[:-1].sum(1) + (1 - w0.sum())) - 1
    weights_after = held[1:] / (held[1:].sum(1) + (1 - w0.sum()))[:, None]
    return np.concatenate([rp_hist, rp_live]), weights_after


@pytest.mark.parametrize("cash", [0.0, 0.2])
def test_every_figure_equals_a_recompute_from_scratch(cash):
    prices, n_hist = _panel()
    n = prices.shape[1]
    w0 = np.linspace(1.0, 2.0, n)
    w0 = w0 / w0.sum() * (1 - cash)
    state = LiveRisk(pd.Series(w0, prices.columns), confidence=CONF, horizon_bars=4, lam=LAM,
                     fhs_window=FHS, corr_windows=(CORR,), breach_confidences=(0.99, CONF))
    state.fit(prices.iloc[:n_hist])
    r_all = prices.pct_change().iloc[1:].to_numpy()
    t_hist = n_hist - 1
    rp, w_after = _book_returns(r_all, w0, t_hist)
    corr_ref = average_correlation_series(pd.DataFrame(r_all), window=CORR).to_numpy()
    for k in range(prices.shape[0] - n_hist):
        bar = state.update(prices.iloc[n_hist + k].to_numpy(), prices.index[n_hist + k])
        t = t_hist + k + 1  # returns known
        x = r_all[:t]
        # EWMA covariance, closed form over every return so far (the fit's seed term included)
        lags = LAM ** np.arange(t - 1, -1, -1.0)
        seed = LAM ** t * (x[:t_hist].T @ x[:t_hist] / t_hist)  # fitted, then decayed
        cov = ((1 - LAM) * lags[:, None] * x).T @ x + seed
        w = w_after[k]
        sigma = np.sqrt(w @ cov @ w) * 2.0  # sqrt(4 bars)
        z = stats.norm.ppf(1 - CONF)
        assert bar.var_parametric == pytest.approx(z * sigma, rel=1e-9)
        assert bar.es_parametric == pytest.approx(-sigma * stats.norm.pdf(z) / (1 - CONF),
                                                  rel=1e-9)
        # filtered historical: the backtest's causal FHS forecast for the day after t
        series = pd.Series(np.append(rp[:t], 0.0))
        var_ref, es_ref = rolling_forecasts(series, model="filtered_historical",
                                            confidence=CONF, window=FHS, lam=LAM)
        assert bar.var_filtered_historical == pytest.approx(2.0 * var_ref.iloc[-1], rel=1e-9)
        assert bar.es_filtered_historical == pytest.approx(2.0 * es_ref.iloc[-1], rel=1e-9)
        # the breach check used the forecast made before this bar
        prev = rolling_forecasts(pd.Series(rp[:t]), model="filtered_historical",
                                 confidence=0.99, window=FHS, lam=LAM)[0]
        assert bar.breach_forecasts[0.99] == pytest.approx(prev.iloc[-1], rel=1e-9)
        assert bar.portfolio_return == pytest.approx(rp[t - 1], rel=1e-12, abs=1e-15)
        dd = drawdown(pd.Series(rp[t_hist:t])).iloc[-1]
        assert bar.drawdown == pytest.approx(dd, abs=1e-12)
        assert bar.max_weight == pytest.approx(w.max(), rel=1e-12)
        assert bar.max_weight_asset == prices.columns[int(np.argmax(w))]
        # rolling average correlation, across the exact refresh every CORR bars
        assert bar.avg_correlation[CORR] == pytest.approx(corr_ref[t - CORR], abs=1e-10)


def test_live_alerts_equal_the_batch_evaluator():
    """Same rules, same book returns: the bar-by-bar alerts are the batch evaluator's."""
    prices, n_hist = _panel(seed=4, t_live=120, factor=3.0)
    n = prices.shape[1]
    w0 = np.full(n, 1.0 / n)
    rules = parse_alert_rules(
        "rules:\n"
        "  - {name: var_breach, metric: var_breach, confidence: 0.9, action: a}\n"
        "  - {name: dd, metric: drawdown, limit: -0.03, rearm: -0.01, action: b}\n"
        "  - {name: corr, metric: avg_correlation, limit: 0.5, window: 30, rearm: 0.4, "
        "action: c}\n"
    )
    live = LiveAlerts(rules)
    state = LiveRisk(pd.Series(w0, prices.columns), lam=LAM, fhs_window=FHS,
                     corr_windows=live.correlation_windows(),
                     breach_confidences=live.breach_confidences()).fit(prices.iloc[:n_hist])
    fired = []
    for k in range(n_hist, prices.shape[0]):
        fired += live.evaluate(state.update(prices.iloc[k].to_numpy(), prices.index[k]))
    r_all = prices.pct_change().iloc[1:]
    t_hist = n_hist - 1
    rp, _ = _book_returns(r_all.to_numpy(), w0, t_hist)
    rp = pd.Series(rp, r_all.index)
    fc, _ = rolling_forecasts(rp, model="filtered_historical", confidence=0.9, window=FHS)
    batch = evaluate_alerts(rules, portfolio_returns=rp.iloc[t_hist:],
                            var_forecasts={0.9: fc.iloc[fc.index.get_loc(rp.index[t_hist]):]},
                            asset_returns=r_all)
    key = [(a.date, a.rule, round(a.value, 12)) for a in fired]
    assert {a.rule for a in fired} == {"var_breach", "dd", "corr"}  # every rule had a case
    assert key == [(a.date, a.rule, round(a.value, 12)) for a in batch]


def test_concentration_fires_once_per_episode_per_position():
    rules = parse_alert_rules("rules:\n  - {name: conc, metric: max_weight, limit: 0.3, "
                              "rearm: 0.28, action: trim}\n")
    live = LiveAlerts(rules)
    prices, n_hist = _panel(seed=1, n=4, t_live=3)
    state = LiveRisk(pd.Series(0.25, prices.columns), fhs_window=FHS, corr_windows=(CORR,))
    state.fit(prices.iloc[:n_hist])
    p = prices.iloc[n_hist - 1].to_numpy()
    seen = []
    # A0 rallies: weight 0.25*1.5/(1.125) = 1/3 > 0.3 (alert), stays over (no alert), falls
    # back to 0.25 (re-armed), rallies again (alert)
    for k, mult in enumerate([1.5, 1.5, 1.0, 1.5]):
        q = p.copy()
        q[0] *= mult
        bar = state.update(q, prices.index[n_hist - 1] + pd.Timedelta(days=k + 1))
        seen.append([(a.metric, round(a.value, 6)) for a in live.evaluate(bar)])
    assert seen == [[("weight:A0", round(1 / 3, 6))], [], [], [("weight:A0", round(1 / 3, 6))]]


def test_horizon_is_read_from_the_bar_interval():
    daily = pd.bdate_range("2024-01-01", periods=30)
    assert resolve_horizon("1d", daily).bars == 1
    assert resolve_horizon("5d", daily).bars == 5
    assert "sqrt(5)" in resolve_horizon("5d", daily).text
    five_min = pd.date_range("2024-01-02 09:30", periods=60, freq="5min")
    h = resolve_horizon("1h", five_min)
    assert (h.bars, h.daily, h.scale) == (12, False, pytest.approx(np.sqrt(12)))
    assert "5min" in h.text and "12" in h.text
    assert resolve_horizon("3bars", five_min).bars == 3
    with pytest.raises(ConfigError, match="whole number"):
        resolve_horizon("7min", five_min)
    with pytest.raises(ConfigError, match="daily"):
        resolve_horizon("1h", daily)
