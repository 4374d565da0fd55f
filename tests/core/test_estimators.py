"""Estimators against hand calculations, scikit-learn / PyPortfolioOpt peers and structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pypfopt import expected_returns as pe
from pypfopt import risk_models as pr
from sklearn.covariance import OAS, LedoitWolf

from autoport import estimators as E
from autoport.data import bundled_prices
from autoport.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return bundled_prices().iloc[-757:, :8]


def test_mean_return_is_cagr_by_hand(prices):
    mu = E.mean_return(prices)
    n = len(prices) - 1
    by_hand = (prices.iloc[-1] / prices.iloc[0]) ** (252 / n) - 1
    np.testing.assert_allclose(mu.to_numpy(), by_hand.to_numpy(), rtol=1e-12)
    arith = E.mean_return(prices, compounding=False)
    np.testing.assert_allclose(
        arith.to_numpy(), prices.pct_change().iloc[1:].mean().to_numpy() * 252, rtol=1e-12
    )


def test_ewma_and_capm_match_pypfopt(prices):
    pd.testing.assert_series_equal(
        E.ewma_return(prices, span=100), pe.ema_historical_return(prices, span=100),
        check_names=False,
    )
    capm = E.capm_return(prices, risk_free_rate=0.02)
    pd.testing.assert_series_equal(capm, pe.capm_return(prices, risk_free_rate=0.02),
                                   check_names=False)
    # CAPM by hand with the equal-weighted market: rf + β (E[Rm] − rf)
    rets = prices.pct_change().dropna()
    mkt = rets.mean(axis=1)
    beta = rets.apply(lambda c: np.cov(c, mkt)[0, 1] / mkt.var())
    mkt_mean = (1 + mkt).prod() ** (252 / len(mkt)) - 1
    np.testing.assert_allclose(capm.to_numpy(), (0.02 + beta * (mkt_mean - 0.02)).to_numpy(),
                               rtol=1e-9)


def test_james_stein_by_hand():
    rng = np.random.default_rng(3)
    rets = rng.normal(0.0005, 0.01, size=(400, 6)) + np.linspace(0, 0.001, 6)
    prices = pd.DataFrame(100 * np.cumprod(1 + np.vstack([np.zeros(6), rets]), axis=0),
                          columns=list("ABCDEF"))
    got = E.james_stein_return(prices)
    r = prices.pct_change().dropna().to_numpy()
    m = r.mean(0)
    g = m.mean()
    s = np.cov(r, rowvar=False) / len(r)
    delta = min(1.0, (6 - 3) / ((m - g) @ np.linalg.inv(s) @ (m - g)))
    expected = (g + (1 - delta) * (m - g)) * 252
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-10)
    assert 0 < delta < 1
    # each estimate lies between the grand mean and its own sample mean
    lo = np.minimum(g, m) * 252 - 1e-15
    hi = np.maximum(g, m) * 252 + 1e-15
    assert np.all((got.to_numpy() >= lo) & (got.to_numpy() <= hi))


def test_james_stein_needs_four_assets(prices):
    with pytest.raises(ConfigError, match="at least 4 assets"):
        E.james_stein_return(prices.iloc[:, :3])


def test_black_litterman_full_confidence_hits_the_view(prices):
    views = [E.View("AAPL", 0.30, confidence=1.0)]
    post = E.black_litterman_return(prices, views)
    assert post["AAPL"] == pytest.approx(0.30, abs=1e-6)
    # a relative view moves the two names apart compared with the prior
    cov = E.ledoit_wolf_cov(prices)
    prior = pd.Series(2.5 * cov.to_numpy() @ np.full(8, 1 / 8), index=prices.columns)
    rel = E.black_litterman_return(prices, [E.View("AMD", 0.05, short="BAC", confidence=0.8)])
    assert (rel["AMD"] - rel["BAC"]) > (prior["AMD"] - prior["BAC"])
    with pytest.raises(ConfigError, match="unknown ticker 'ZZZ'"):
        E.black_litterman_return(prices, [E.View("ZZZ", 0.1)])


def test_covariances_against_peers(prices):
    rets = prices.pct_change().dropna().to_numpy()
    np.testing.assert_allclose(E.sample_cov(prices), np.cov(rets, rowvar=False) * 252, rtol=1e-10)
    np.testing.assert_allclose(E.ledoit_wolf_cov(prices),
                               LedoitWolf().fit(rets).covariance_ * 252, rtol=1e-10)
    np.testing.assert_allclose(E.oas_cov(prices), OAS().fit(rets).covariance_ * 252, rtol=1e-10)
    np.testing.assert_allclose(E.ewma_cov(prices, span=60), pr.exp_cov(prices, span=60),
                               rtol=1e-10)
    # Ledoit-Wolf is (1 − δ) S_mle + δ (tr S_mle / n) I: off-diagonals scale by one constant
    s_mle = np.cov(rets, rowvar=False, bias=True) * 252
    ratio = E.ledoit_wolf_cov(prices).to_numpy() / s_mle
    off = ~np.eye(8, dtype=bool)
    assert np.ptp(ratio[off]) < 1e-10 and 0 < ratio[off][0] < 1


def test_factor_model_keeps_variances_and_rank(prices):
    k = 2
    cov = E.factor_cov(prices, n_factors=k).to_numpy()
    sample = E.sample_cov(prices).to_numpy()
    np.testing.assert_allclose(np.diag(cov), np.diag(sample), rtol=1e-10)
    eig = np.linalg.eigvalsh(sample / 252)
    vecs = np.linalg.eigh(sample / 252)[1][:, -k:]
    low_rank = (vecs * eig[-k:]) @ vecs.T * 252
    np.testing.assert_allclose(cov - np.diag(np.diag(cov)), low_rank - np.diag(np.diag(low_rank)),
                               atol=1e-12)
    with pytest.raises(ConfigError, match="n_factors"):
        E.factor_cov(prices, n_factors=8)


def test_every_risk_model_is_symmetric_psd(prices):
    for model in E.RISK_MODELS:
        cov = E.risk_matrix(prices, model).to_numpy()
        np.testing.assert_array_equal(cov, cov.T)
        assert np.linalg.eigvalsh(cov).min() >= -1e-12, model


def test_ensure_psd_repairs_or_refuses():
    bad = np.array([[1.0, 0.9, 0.7], [0.9, 1.0, -0.9], [0.7, -0.9, 1.0]])
    assert np.linalg.eigvalsh(bad).min() < -0.1
    fixed = E.ensure_psd(bad)
    assert np.linalg.eigvalsh(fixed).min() >= -1e-12
    # spectral projection: the repaired matrix keeps the positive part of the spectrum
    vals, vecs = np.linalg.eigh(bad)
    np.testing.assert_allclose(fixed, (vecs * np.clip(vals, 0, None)) @ vecs.T, atol=1e-14)
    with pytest.raises(DataError, match="not positive semi-definite"):
        E.ensure_psd(bad, repair=False)
    with pytest.raises(DataError, match="not symmetric"):
        E.ensure_psd(np.array([[1.0, 0.5], [0.1, 1.0]]))
    with pytest.raises(DataError, match="NaN"):
        E.ensure_psd(np.array([[1.0, np.nan], [np.nan, 1.0]]))


def test_unknown_models_are_refused(prices):
    with pytest.raises(ConfigError, match="choose one of mean, arithmetic, ewma"):
        E.expected_returns(prices, "magic")
    with pytest.raises(ConfigError, match="choose one of sample, ledoit_wolf"):
        E.risk_matrix(prices, "magic")
