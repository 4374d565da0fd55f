"""Backtesting a VaR model: causal forecasts, breaches, Kupiec and Christoffersen tests.

Every forecast for day ``t`` uses returns up to day ``t - 1`` only (a rolling window or a
recursive filter), and is compared with the realised return of day ``t``. A breach is a
realised return below the (negative) VaR forecast.

Models (``model=``):

- ``filtered_historical`` (default): EWMA volatility (RiskMetrics, lambda 0.94) filters the
  returns; VaR is tomorrow's volatility times the empirical quantile of the standardised
  returns in the window (Barone-Adesi et al. 1999; Hull and White 1998). It follows volatility
  clusters, which plain history cannot;
- ``ewma_normal``: RiskMetrics, zero mean, normal quantile times EWMA volatility;
- ``historical``: the empirical quantile of the window's returns;
- ``normal``: rolling mean and standard deviation, normal quantile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

from autoport.errors import ConfigError, DataError
from autoport._blas import blas_single
from autoport import measures
from autoport.risk.var import check_confidence

BACKTEST_MODELS = ("filtered_historical", "ewma_normal", "historical", "normal")
DEFAULT_MODEL = "filtered_historical"
DEFAULT_WINDOW = 500
DEFAULT_LAMBDA = 0.94


@dataclass(frozen=True)
class CoverageTest:
    statistic: float
    pvalue: float
    dof: int


def kupiec_pof(breaches: int, observations: int, confidence: float) -> CoverageTest:
    """Kupiec (1995) proportion-of-failures likelihood ratio, chi-square with 1 dof.

    LR = -2 ln[(1-p)^(T-x) p^x] + 2 ln[(1-x/T)^(T-x) (x/T)^x], p = 1 - confidence.
    """
    p = 1.0 - check_confidence(confidence)
    x, t = int(breaches), int(observations)
    if t <= 0 or not 0 <= x <= t:
        raise DataError(f"{x} breaches in {t} observations is impossible; need 0 <= x <= T, T > 0")
    phat = x / t
    ll_null = _xlogy(t - x, 1.0 - p) + _xlogy(x, p)
    ll_alt = _xlogy(t - x, 1.0 - phat) + _xlogy(x, phat)
    lr = max(-2.0 * (ll_null - ll_alt), 0.0)
    return CoverageTest(lr, float(stats.chi2.sf(lr, 1)), 1)


def exact_binomial_pvalue(breaches: int, observations: int, confidence: float) -> float:
    """Two-sided exact binomial p-value of ``breaches`` in ``observations`` days.

    Kupiec's LR is chi-square only asymptotically: on a year of 99% VaR, zero breaches give
    LR p = 0.025 (rejected) while the exact probability of a result at least as unlikely is
    0.19. The p-value sums the probabilities of every count no likelier than the observed one
    (the minimum-likelihood rule, as ``scipy.stats.binomtest``).
    """
    p = 1.0 - check_confidence(confidence)
    x, t = int(breaches), int(observations)
    if t <= 0 or not 0 <= x <= t:
        raise DataError(f"{x} breaches in {t} observations is impossible; need 0 <= x <= T, T > 0")
    pmf = stats.binom.pmf(np.arange(t + 1), t, p)
    # the relative tolerance keeps counts equal in probability up to rounding on both sides
    return float(min(1.0, pmf[pmf <= pmf[x] * (1.0 + 1e-7)].sum()))


def christoffersen_independence(hits: np.ndarray) -> CoverageTest:
    """Christoffersen (1998) test that a breach today does not make one tomorrow likelier.

    Counts transitions n_ij (i = yesterday, j = today) and compares the Markov likelihood with
    pi_01 != pi_11 against a single pi; chi-square with 1 dof.
    """
    h = np.asarray(hits, dtype=bool)
    if h.size < 2:
        raise DataError("the independence test needs at least two days of breaches")
    prev, cur = h[:-1], h[1:]
    n00 = int(np.sum(~prev & ~cur))
    n01 = int(np.sum(~prev & cur))
    n10 = int(np.sum(prev & ~cur))
    n11 = int(np.sum(prev & cur))
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    ll_null = _xlogy(n00 + n10, 1.0 - pi) + _xlogy(n01 + n11, pi)
    ll_alt = (
        _xlogy(n00, 1.0 - pi01) + _xlogy(n01, pi01) + _xlogy(n10, 1.0 - pi11) + _xlogy(n11, pi11)
    )
    lr = max(-2.0 * (ll_null - ll_alt), 0.0)
    return CoverageTest(lr, float(stats.chi2.sf(lr, 1)), 1)


def _xlogy(n: float, p: float) -> float:
    """n ln p with 0 ln 0 = 0."""
    return 0.0 if n == 0 else float(n * np.log(p)) if p > 0 else -np.inf


@dataclass(frozen=True)
class VaRBacktest:
    """Forecasts and realised returns on the test days, with coverage tests."""

    model: str
    confidence_level: float
    window: int
    var: pd.Series
    expected_shortfall: pd.Series
    realised: pd.Series
    breaches: pd.Series  # bool
    kupiec: CoverageTest
    christoffersen: CoverageTest

    @property
    def observations(self) -> int:
        return int(self.breaches.size)

    @property
    def breach_count(self) -> int:
        return int(self.breaches.sum())

    @property
    def breach_rate(self) -> float:
        return self.breach_count / self.observations

    @property
    def conditional_coverage_pvalue(self) -> float:
        lr = self.kupiec.statistic + self.christoffersen.statistic
        return float(stats.chi2.sf(lr, 2))

    def summary(self) -> dict:
        return {
            "method": self.model,
            "confidence_level": self.confidence_level,
            "horizon": 1,  # one-day forecasts against next-day returns
            "window": self.window,
            "start": self.breaches.index[0],
            "end": self.breaches.index[-1],
            "observations": self.observations,
            "breaches": self.breach_count,
            "expected_breaches": self.observations * (1.0 - self.confidence_level),
            "breach_rate": self.breach_rate,
            "kupiec_statistic": self.kupiec.statistic,
            "kupiec_pvalue": self.kupiec.pvalue,
            "binomial_pvalue": exact_binomial_pvalue(
                self.breach_count, self.observations, self.confidence_level
            ),
            "christoffersen_statistic": self.christoffersen.statistic,
            "christoffersen_pvalue": self.christoffersen.pvalue,
            "conditional_coverage_pvalue": self.conditional_coverage_pvalue,
        }


def ewma_variance(r: np.ndarray, lam: float = DEFAULT_LAMBDA, seed_obs: int = 20) -> np.ndarray:
    """Causal EWMA variance: ``out[t]`` uses returns before ``t`` (zero mean, RiskMetrics).

    Seeded with the mean square of the first ``seed_obs`` returns, which are then not
    forecast (``out[:seed_obs]`` is NaN).
    """
    from scipy.signal import lfilter

    r = np.asarray(r, dtype=float)
    out = np.full(r.size, np.nan)
    if r.size <= seed_obs:
        return out
    s0 = float(np.mean(r[:seed_obs] ** 2))
    # v[t] = lam v[t-1] + (1 - lam) r[t-1]^2 for t >= seed_obs, v[seed_obs] from s0 and r.
    x = (1.0 - lam) * r[seed_obs - 1 : -1] ** 2
    v, _ = lfilter([1.0], [1.0, -lam], x, zi=[lam * s0])
    out[seed_obs:] = v
    return out


@blas_single
def rolling_forecasts(
    returns: pd.Series,
    *,
    model: str = DEFAULT_MODEL,
    confidence: float = 0.95,
    window: int = DEFAULT_WINDOW,
    lam: float = DEFAULT_LAMBDA,
) -> tuple[pd.Series, pd.Series]:
    """One-day VaR and ES forecasts for each day after the first ``window`` days (causal)."""
    confidence = check_confidence(confidence)
    if model not in BACKTEST_MODELS:
        raise ConfigError(
            f"unknown backtest model {model!r}; choose one of {', '.join(BACKTEST_MODELS)}"
        )
    r = np.asarray(returns, dtype=float)
    if not np.isfinite(r).all():
        raise DataError("portfolio returns contain NaN; clean the prices first")
    if window < 20:
        raise ConfigError(f"window {window} is too short for a tail estimate; use >= 20 days")
    if r.size <= window + 1:
        raise DataError(
            f"{r.size} days of returns leave nothing to test after a {window}-day window; pass a "
            "longer history or a smaller window"
        )
    a = 1.0 - confidence
    # windows[j] = r[j : j + window], the information for forecasting day j + window.
    windows = sliding_window_view(r[:-1], window)
    if model == "historical":
        var, es = measures.var_es_rows(windows, a)  # the one tail rule (autoport.measures)
    elif model == "normal":
        mu, sd = windows.mean(1), windows.std(1, ddof=1)
        z = stats.norm.ppf(a)
        var, es = mu + z * sd, mu - sd * stats.norm.pdf(z) / a
    else:
        vol = np.sqrt(ewma_variance(r, lam))
        if model == "ewma_normal":
            s = vol[window:]
            z = stats.norm.ppf(a)
            var, es = z * s, -s * stats.norm.pdf(z) / a
        else:
            # Standardised returns z_t = r_t / vol_t, each vol_t from data before t; for the
            # forecast of day t use the window of z before t, scaled by vol_t.
            zs = r / vol
            zw = sliding_window_view(zs[:-1], window)
            # early windows overlap the unforecast seed days; drop their NaNs by using the
            # first full window of standardised returns
            first = int(np.argmax(np.isfinite(zs)))
            start = first  # windows[j] covers zs[j : j + window]; need j >= first
            zw = zw[start:]
            q, tail = measures.var_es_rows(zw, a)
            s = vol[window + start :]
            var, es = q * s, tail * s
            idx = returns.index[window + start :]
            return pd.Series(var, idx, name="var"), pd.Series(es, idx, name="es")
    idx = returns.index[window:]
    return pd.Series(var, idx, name="var"), pd.Series(es, idx, name="es")


def backtest_var(
    returns: pd.Series,
    *,
    model: str = DEFAULT_MODEL,
    confidence: float = 0.95,
    window: int = DEFAULT_WINDOW,
    lam: float = DEFAULT_LAMBDA,
) -> VaRBacktest:
    """Re-estimate VaR causally at each date and test the breaches against the confidence."""
    if not isinstance(returns, pd.Series):
        returns = pd.Series(np.asarray(returns, dtype=float).ravel())
    var, es = rolling_forecasts(returns, model=model, confidence=confidence, window=window, lam=lam)
    realised = returns.loc[var.index] if returns.index.is_unique else returns.iloc[-var.size :]
    hits = realised.to_numpy() < var.to_numpy()
    breaches = pd.Series(hits, index=var.index, name="breach")
    return VaRBacktest(
        model=model,
        confidence_level=float(confidence),
        window=window,
        var=var,
        expected_shortfall=es,
        realised=realised.rename("return"),
        breaches=breaches,
        kupiec=kupiec_pof(int(hits.sum()), hits.size, confidence),
        christoffersen=christoffersen_independence(hits),
    )
