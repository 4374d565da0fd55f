"""Value at Risk and Expected Shortfall: parametric, historical and Monte Carlo.

Conventions (the same as empyrical and the rest of autoport):

- inputs are *daily simple returns* of the assets, shape ``(n_observations, n_assets)``, and
  portfolio ``weights`` (fractions of capital, one per asset);
- VaR and ES are *portfolio returns over the horizon*: negative numbers mean losses. At
  confidence 0.95, VaR is the 5% quantile of the horizon return and ES the mean return in that
  tail, so ``ES <= VaR`` always;
- a horizon of ``h`` days means a buy-and-hold position over ``h`` sessions.

How a multi-day horizon is obtained, per method:

- parametric: the one-day distribution's cumulants are aggregated as for a sum of ``h`` iid
  days (mean ``h mu``, volatility ``sqrt(h) sigma``; Cornish-Fisher skewness ``/sqrt(h)`` and
  excess kurtosis ``/h``). For Student-t this is the usual square-root-of-time approximation;
- historical: overlapping ``h``-day windows of the history, each compounded asset by asset and
  valued with the weights at the window's start (buy and hold);
- Monte Carlo: ``h`` daily draws per path, compounded asset by asset along the simulated path,
  never a square-root-of-time rescaling.

The Monte Carlo standard error is measured by batch means over 20 blocks of consecutive paths
(antithetic pairs stay in one block): independent blocks for pseudo-random draws; for Sobol
draws the blocks are pieces of one scrambled sequence, each less uniform than the whole, so
the reported error is conservative there.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum

import empyrical
import numpy as np
import pandas as pd
from scipy import integrate, special, stats

from autoport.errors import ConfigError, DataError
from autoport.risk._blas import blas_single, single_threaded_blas

ArrayLike = np.ndarray | pd.DataFrame | pd.Series


class VaRMethod(StrEnum):
    """Names a user types for each VaR model."""

    PARAMETRIC = "parametric"  # normal
    PARAMETRIC_STUDENT_T = "parametric_student_t"
    PARAMETRIC_CORNISH_FISHER = "parametric_cornish_fisher"
    HISTORICAL = "historical"
    HISTORICAL_AGE_WEIGHTED = "historical_age_weighted"
    MONTE_CARLO = "monte_carlo"  # multivariate normal
    MONTE_CARLO_STUDENT_T = "monte_carlo_student_t"
    MONTE_CARLO_COPULA = "monte_carlo_copula"


METHOD_FAMILIES: dict[str, tuple[VaRMethod, ...]] = {
    "parametric": (
        VaRMethod.PARAMETRIC,
        VaRMethod.PARAMETRIC_STUDENT_T,
        VaRMethod.PARAMETRIC_CORNISH_FISHER,
    ),
    "historical": (VaRMethod.HISTORICAL, VaRMethod.HISTORICAL_AGE_WEIGHTED),
    "monte_carlo": (
        VaRMethod.MONTE_CARLO,
        VaRMethod.MONTE_CARLO_STUDENT_T,
        VaRMethod.MONTE_CARLO_COPULA,
    ),
}
METHOD_FAMILIES["all"] = tuple(m for fam in list(METHOD_FAMILIES.values()) for m in fam)


_SIMULATED = "simulated daily paths, compounded asset by asset (no square-root-of-time)"
HORIZON_RULES = {
    "parametric": "iid aggregation of the daily normal: h mu, sqrt(h) sigma",
    "parametric_student_t": "square-root-of-time scaling of the daily Student-t (approximation)",
    "parametric_cornish_fisher": "iid cumulants: h mu, sqrt(h) sigma, skew/sqrt(h), kurt/h",
    "historical": "overlapping h-day windows of history, compounded, buy and hold",
    "historical_age_weighted": "overlapping h-day windows, compounded, weighted by age",
    "monte_carlo": _SIMULATED,
    "monte_carlo_student_t": _SIMULATED,
    "monte_carlo_copula": _SIMULATED,
}


@dataclass(frozen=True)
class VaRResult:
    """One VaR/ES estimate, both as horizon returns (negative = loss).

    ``mc_error`` and ``es_mc_error`` are standard errors of the Monte Carlo estimates (None for
    closed forms and history). ``asset_tail_mean`` is E[r_i | r_p in the ES tail] and
    ``asset_var_mean`` is E[r_i | r_p near VaR], per asset, over the horizon: the inputs of
    scenario-based Euler attribution. ``scenarios`` holds the portfolio horizon returns the
    estimate came from (for plots), when there are any.
    """

    method: str
    var: float
    expected_shortfall: float
    confidence_level: float
    horizon: int
    mc_error: float | None = None
    es_mc_error: float | None = None
    n_scenarios: int | None = None
    details: dict = field(default_factory=dict)
    asset_tail_mean: np.ndarray | None = field(default=None, repr=False, compare=False)
    asset_var_mean: np.ndarray | None = field(default=None, repr=False, compare=False)
    scenarios: np.ndarray | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        out = {
            "var": self.var,
            "expected_shortfall": self.expected_shortfall,
            "confidence_level": self.confidence_level,
            "horizon": self.horizon,
        }
        if self.horizon > 1:
            out["horizon_rule"] = HORIZON_RULES.get(self.method, "")
        if self.mc_error is not None:
            out["mc_error"] = self.mc_error
            out["es_mc_error"] = self.es_mc_error
            out["n_paths"] = self.n_scenarios
        out.update(self.details)
        return out


# --------------------------------------------------------------------------------------------
# input checks


def check_confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0.5 < confidence < 1.0:
        raise ConfigError(
            f"confidence {confidence} must lie strictly between 0.5 and 1 (for example 0.95 or "
            "0.99); it is the probability of doing better than VaR"
        )
    return confidence


def check_horizon(horizon: int) -> int:
    if int(horizon) != horizon or horizon < 1:
        raise ConfigError(f"horizon {horizon} must be a whole number of days >= 1 (1, 5, 10)")
    return int(horizon)


def as_returns(returns: ArrayLike, *, min_obs: int = 2) -> np.ndarray:
    """Daily asset returns as a finite float array of shape (n_observations, n_assets)."""
    x = np.asarray(returns, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise DataError(f"returns must be a 2-D table (days x assets); got {x.ndim} dimensions")
    if x.shape[0] < min_obs:
        raise DataError(
            f"returns hold {x.shape[0]} days but at least {min_obs} are needed; pass a longer "
            "history"
        )
    if not np.isfinite(x).all():
        raise DataError("returns contain NaN or infinite values; clean the price panel first")
    if (x <= -1.0).any():
        raise DataError("a daily return is -100% or worse; check the prices for zeros")
    return x


def as_weights(weights: ArrayLike, n_assets: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float).ravel()
    if w.shape[0] != n_assets:
        raise DataError(f"{w.shape[0]} weights for {n_assets} assets; give one weight per asset")
    if not np.isfinite(w).all():
        raise DataError("weights contain NaN or infinite values")
    return w


def _alpha(confidence: float) -> float:
    return 1.0 - check_confidence(confidence)


# --------------------------------------------------------------------------------------------
# closed forms on one distribution


def normal_var_es(mu: float, sigma: float, confidence: float) -> tuple[float, float]:
    """VaR = mu + z_a sigma and ES = mu - sigma phi(z_a) / a, with a = 1 - confidence."""
    a = _alpha(confidence)
    z = stats.norm.ppf(a)
    return mu + z * sigma, mu - sigma * stats.norm.pdf(z) / a


def student_t_var_es(mu: float, sigma: float, dof: float, confidence: float) -> tuple[float, float]:
    """Student-t with ``dof`` > 2 scaled so its standard deviation is ``sigma``.

    ES = mu - s (nu + t_a^2) f_nu(t_a) / ((nu - 1) a), s = sigma sqrt((nu - 2) / nu).
    """
    if not dof > 2:
        raise ConfigError(f"Student-t degrees of freedom {dof} must exceed 2 (finite variance)")
    a = _alpha(confidence)
    scale = sigma * np.sqrt((dof - 2.0) / dof)
    t = stats.t.ppf(a, dof)
    es_std = -(dof + t * t) / (dof - 1.0) * stats.t.pdf(t, dof) / a
    return mu + scale * t, mu + scale * es_std


def cornish_fisher_quantile(p: np.ndarray | float, skew: float, exkurt: float) -> np.ndarray:
    """Cornish-Fisher expansion of the standardised quantile at probability ``p``."""
    z = stats.norm.ppf(p)
    return (
        z
        + (z**2 - 1.0) * skew / 6.0
        + (z**3 - 3.0 * z) * exkurt / 24.0
        - (2.0 * z**3 - 5.0 * z) * skew**2 / 36.0
    )


def cornish_fisher_monotone(skew: float, exkurt: float, confidence: float) -> bool:
    """Whether the expansion's quantile rises with probability over (1e-6, a]: valid there."""
    p = np.geomspace(1e-6, _alpha(confidence), 400)
    return bool(np.all(np.diff(cornish_fisher_quantile(p, skew, exkurt)) > 0))


def cornish_fisher_var_es(
    mu: float, sigma: float, skew: float, exkurt: float, confidence: float
) -> tuple[float, float]:
    """VaR from the Cornish-Fisher quantile; ES = (1/a) integral of the quantile over (0, a)."""
    a = _alpha(confidence)
    var = mu + sigma * float(cornish_fisher_quantile(a, skew, exkurt))
    integral, _ = integrate.quad(
        lambda p: float(cornish_fisher_quantile(p, skew, exkurt)), 0.0, a, limit=200
    )
    es = mu + sigma * integral / a
    # The expansion is not monotone for extreme skew/kurtosis; never report ES above VaR.
    return var, min(es, var)


# --------------------------------------------------------------------------------------------
# parametric


def fit_student_t_dof(x: np.ndarray) -> float:
    """Degrees of freedom by maximum likelihood (location and scale free), kept in (2.1, 100]."""
    x = np.asarray(x, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dof, _, _ = stats.t.fit(x)
    return float(np.clip(dof, 2.1, 100.0))


@blas_single
def parametric_var(
    returns: ArrayLike,
    weights: ArrayLike,
    *,
    confidence: float = 0.95,
    horizon: int = 1,
    distribution: str = "normal",
    dof: float | None = None,
) -> VaRResult:
    """Closed-form VaR/ES of the portfolio from the mean and covariance of daily returns.

    ``distribution``: ``normal``, ``student_t`` (``dof`` fitted by ML on the portfolio's
    returns unless given) or ``cornish_fisher`` (sample skewness and excess kurtosis of the
    portfolio's returns).
    """
    x = as_returns(returns, min_obs=3)
    w = as_weights(weights, x.shape[1])
    h = check_horizon(horizon)
    confidence = check_confidence(confidence)
    # w' Sigma w equals the sample variance of the portfolio's returns: O(T n), no n x n matrix
    rp = x @ w
    mu_d = float(rp.mean())
    sigma_d = float(rp.std(ddof=1))
    mu, sigma = h * mu_d, np.sqrt(h) * sigma_d
    details: dict = {}
    if distribution == "normal":
        var, es = normal_var_es(mu, sigma, confidence)
        method = VaRMethod.PARAMETRIC
    elif distribution == "student_t":
        nu = fit_student_t_dof(rp) if dof is None else float(dof)
        var, es = student_t_var_es(mu, sigma, nu, confidence)
        method = VaRMethod.PARAMETRIC_STUDENT_T
        details["dof"] = nu
    elif distribution == "cornish_fisher":
        skew = float(stats.skew(rp)) / np.sqrt(h)
        exkurt = float(stats.kurtosis(rp)) / h
        var, es = cornish_fisher_var_es(mu, sigma, skew, exkurt, confidence)
        method = VaRMethod.PARAMETRIC_CORNISH_FISHER
        details.update(skewness=float(skew), excess_kurtosis=float(exkurt))
        if not cornish_fisher_monotone(skew, exkurt, confidence):
            details["note"] = (
                "the Cornish-Fisher expansion is not monotone in the tail for this skewness and "
                "kurtosis; its VaR and ES are unreliable (prefer historical or Monte Carlo)"
            )
    else:
        raise ConfigError(
            f"unknown parametric distribution {distribution!r}; choose normal, student_t or "
            "cornish_fisher"
        )
    return VaRResult(method.value, float(var), float(es), confidence, h, details=details)


# --------------------------------------------------------------------------------------------
# scenario sets (history and simulation share the tail rules)


def tail_count(n: int, confidence: float) -> int:
    """Scenarios averaged into ES: the lowest ``floor((n - 1) a) + 1`` (as empyrical's CVaR)."""
    return int((n - 1) * _alpha(confidence)) + 1


def scenario_var_es(pnl: np.ndarray, confidence: float) -> tuple[float, float]:
    """VaR = the empirical quantile (numpy's linear rule, as empyrical); ES = mean of the tail."""
    pnl = np.asarray(pnl, dtype=float)
    a = _alpha(confidence)
    var = float(np.quantile(pnl, a))
    k = tail_count(pnl.size, confidence)
    es = float(np.partition(pnl, k - 1)[:k].mean())
    return var, es


def _conditional_asset_means(
    pnl: np.ndarray, confidence: float, asset_rows
) -> tuple[np.ndarray, np.ndarray, float]:
    """E[r_i | tail] and E[r_i | near VaR] by reading asset rows for the chosen scenarios only.

    ``asset_rows(idx)`` returns the horizon asset returns of scenarios ``idx``. "Near VaR" is
    the band of the ``2m + 1`` order statistics around the quantile, ``m ~ sqrt(n)/2``; the
    band mean of ``r_p`` is returned so callers can rescale to the exact VaR (Hallerbach).
    """
    n = pnl.size
    k = tail_count(n, confidence)
    order = np.argpartition(pnl, k - 1)
    tail_idx = order[:k]
    tail_mean = asset_rows(tail_idx).mean(0)
    m = max(1, int(np.sqrt(n) / 2))
    pos = int(round((n - 1) * _alpha(confidence)))
    lo, hi = max(0, pos - m), min(n, pos + m + 1)
    band_idx = np.argsort(pnl)[lo:hi] if n <= 200_000 else np.argpartition(pnl, (lo, hi - 1))[lo:hi]
    band_rows = asset_rows(band_idx)
    return tail_mean, band_rows.mean(0), float(pnl[band_idx].mean())


def horizon_asset_returns(x: np.ndarray, horizon: int) -> np.ndarray:
    """Overlapping ``horizon``-day compounded returns per asset (one row per window)."""
    if horizon == 1:
        return x
    if x.shape[0] < horizon + 1:
        raise DataError(
            f"{x.shape[0]} days of returns cannot form {horizon}-day windows; pass a longer "
            "history or a shorter horizon"
        )
    logcum = np.vstack([np.zeros(x.shape[1]), np.cumsum(np.log1p(x), axis=0)])
    return np.expm1(logcum[horizon:] - logcum[:-horizon])


@blas_single
def historical_var(
    returns: ArrayLike,
    weights: ArrayLike,
    *,
    confidence: float = 0.95,
    horizon: int = 1,
    decay: float | None = None,
) -> VaRResult:
    """Historical simulation on the portfolio's (overlapping ``horizon``-day) returns.

    ``decay=None``: plain (VaR = empirical quantile, ES = empyrical's CVaR on one-day data).
    ``decay=lambda`` in (0, 1): Boudoukh-Richardson-Whitelaw age weighting, weight
    ``lambda**age`` (age 0 = most recent window).
    """
    x = as_returns(returns, min_obs=2)
    w = as_weights(weights, x.shape[1])
    h = check_horizon(horizon)
    confidence = check_confidence(confidence)
    hx = horizon_asset_returns(x, h)
    pnl = hx @ w
    a = 1.0 - confidence
    if decay is None:
        if h == 1:
            var = float(empyrical.value_at_risk(pnl, cutoff=a))
            es = float(empyrical.conditional_value_at_risk(pnl, cutoff=a))
        else:
            var, es = scenario_var_es(pnl, confidence)
        tail, band, band_p = _conditional_asset_means(pnl, confidence, lambda idx: hx[idx])
        scale = var / band_p if band_p != 0 else 1.0
        return VaRResult(
            VaRMethod.HISTORICAL.value,
            var,
            es,
            confidence,
            h,
            n_scenarios=pnl.size,
            details={"observations": int(pnl.size)},
            asset_tail_mean=tail,
            asset_var_mean=band * scale,
            scenarios=pnl,
        )
    if not 0.0 < decay < 1.0:
        raise ConfigError(f"decay {decay} must lie strictly between 0 and 1 (for example 0.99)")
    ages = np.arange(pnl.size)[::-1]
    p = decay ** ages.astype(float)
    p /= p.sum()
    var, es, tail_w = weighted_var_es(pnl, p, confidence)
    tail_mean = (tail_w[:, None] * hx).sum(0) / a
    near = np.argsort(np.abs(pnl - var))[: max(1, int(np.sqrt(pnl.size) / 2))]
    band = hx[near].mean(0)
    band_p = float(pnl[near].mean())
    scale = var / band_p if band_p != 0 else 1.0
    return VaRResult(
        VaRMethod.HISTORICAL_AGE_WEIGHTED.value,
        var,
        es,
        confidence,
        h,
        n_scenarios=pnl.size,
        details={"decay": decay, "observations": int(pnl.size)},
        asset_tail_mean=tail_mean,
        asset_var_mean=band * scale,
        scenarios=pnl,
    )


def weighted_var_es(
    pnl: np.ndarray, prob: np.ndarray, confidence: float
) -> tuple[float, float, np.ndarray]:
    """Quantile and tail mean of a discrete distribution with probabilities ``prob``.

    VaR is the smallest outcome whose cumulative probability reaches ``a``; ES averages the
    outcomes below it plus the fraction of the VaR outcome that completes mass ``a``. Returns
    the per-scenario tail weights too (summing to ``a``).
    """
    a = _alpha(confidence)
    order = np.argsort(pnl, kind="stable")
    sp, pp = pnl[order], prob[order]
    cum = np.cumsum(pp)
    k = int(np.searchsorted(cum, a - 1e-15))
    k = min(k, sp.size - 1)
    var = float(sp[k])
    tail_sorted = np.zeros_like(pp)
    tail_sorted[:k] = pp[:k]
    tail_sorted[k] = a - (cum[k - 1] if k > 0 else 0.0)
    es = float(tail_sorted @ sp / a)
    tail = np.empty_like(tail_sorted)
    tail[order] = tail_sorted
    return var, min(es, var), tail


# --------------------------------------------------------------------------------------------
# Monte Carlo


@dataclass(frozen=True)
class MarketModel:
    """Daily moments fitted once and reused: mean, covariance and its square root."""

    mean_: np.ndarray
    cov_: np.ndarray
    root_: np.ndarray  # cov_ = root_ @ root_.T
    sorted_returns_: np.ndarray | None = None  # empirical marginals for the copula
    copula_root_: np.ndarray | None = None  # root of the normal-scores correlation

    @property
    def n_assets(self) -> int:
        return self.mean_.size


def matrix_root(cov: np.ndarray) -> np.ndarray:
    """A lower-triangular Cholesky factor, or a symmetric eigen-root when ``cov`` is singular."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(cov)
        return vecs * np.sqrt(np.clip(vals, 0.0, None))


@blas_single
def fit_market_model(returns: ArrayLike, *, copula: bool = False) -> MarketModel:
    """Sample mean and covariance of daily returns (and the copula's pieces when asked)."""
    x = as_returns(returns, min_obs=3)
    mean = x.mean(0)
    cov = np.atleast_2d(np.cov(x, rowvar=False))
    sorted_x = croot = None
    if copula:
        n = x.shape[0]
        ranks = stats.rankdata(x, axis=0)
        scores = stats.norm.ppf(ranks / (n + 1.0))
        corr = np.atleast_2d(np.corrcoef(scores, rowvar=False))
        croot = matrix_root(corr)
        sorted_x = np.sort(x, axis=0)
    return MarketModel(mean, cov, matrix_root(cov), sorted_x, croot)


SAMPLERS = ("antithetic", "sobol", "plain")


def standard_normals(
    n: int, d: int, *, rng: np.random.Generator, sampler: str, seed: int
) -> np.ndarray:
    """``n`` rows of ``d`` independent N(0, 1) draws.

    antithetic: the first half and its negation, interleaved so any block of consecutive rows
    holds whole pairs; sobol: scrambled Sobol points mapped through the normal quantile.
    """
    if sampler == "plain":
        return rng.standard_normal((n, d))
    if sampler == "antithetic":
        half = rng.standard_normal(((n + 1) // 2, d))
        out = np.empty((2 * half.shape[0], d))
        out[0::2] = half
        out[1::2] = -half
        return out[:n]
    if sampler == "sobol":
        from scipy.stats import qmc

        if d > 21201:
            raise ConfigError(f"Sobol draws support at most 21201 dimensions, not {d}")
        engine = qmc.Sobol(d=d, scramble=True, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # balance warning when n is not a power of two
            u = engine.random(n)
        return stats.norm.ppf(np.clip(u, 1e-12, 1 - 1e-12))
    raise ConfigError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")


def _batch_error(pnl: np.ndarray, confidence: float, batches: int = 20) -> tuple[float, float]:
    """Standard errors of VaR and ES by batch means over consecutive blocks of paths."""
    n = pnl.size // batches * batches
    if n < batches * 20:
        return float("nan"), float("nan")
    blocks = pnl[:n].reshape(batches, -1)
    est = np.array([scenario_var_es(b, confidence) for b in blocks])
    se = est.std(axis=0, ddof=1) / np.sqrt(batches)
    return float(se[0]), float(se[1])


def simulate_asset_returns(
    model: MarketModel,
    n_paths: int,
    *,
    horizon: int = 1,
    distribution: str = "normal",
    dof: float = 5.0,
    sampler: str = "antithetic",
    seed: int = 0,
) -> np.ndarray:
    """Horizon returns per asset on ``n_paths`` simulated paths, shape (n_paths, n_assets).

    Each path draws ``horizon`` daily return vectors and compounds them asset by asset.
    ``normal``: mean + root z. ``student_t``: multivariate t with ``dof`` scaled to the
    covariance. ``copula``: Gaussian copula on normal scores mapped to each asset's empirical
    distribution (linear interpolation between order statistics).
    """
    rng = np.random.default_rng(seed)
    n = model.n_assets
    growth = np.ones((n_paths, n))
    for day in range(horizon):
        z = standard_normals(n_paths, n, rng=rng, sampler=sampler, seed=seed + 7919 * day)
        daily = _daily_from_normals(model, z, rng, distribution, dof)
        growth *= 1.0 + daily
    return growth - 1.0


def _daily_from_normals(model, z, rng, distribution, dof):
    if distribution == "normal":
        return model.mean_ + z @ model.root_.T
    if distribution == "student_t":
        mix = _t_mixing(rng, z.shape[0], dof)
        return model.mean_ + (z @ model.root_.T) * mix[:, None]
    if distribution == "copula":
        if model.sorted_returns_ is None:
            raise ConfigError("fit the market model with copula=True for copula simulation")
        u = stats.norm.cdf(z @ model.copula_root_.T)
        return empirical_quantiles(model.sorted_returns_, u)
    raise ConfigError(
        f"unknown Monte Carlo distribution {distribution!r}; choose normal, student_t or copula"
    )


def _t_mixing(rng: np.random.Generator, n: int, dof: float) -> np.ndarray:
    """sqrt((nu - 2) / chi2_nu): turns N(0, cov) into a t with covariance ``cov``."""
    if not dof > 2:
        raise ConfigError(f"Student-t degrees of freedom {dof} must exceed 2 (finite variance)")
    return np.sqrt((dof - 2.0) / rng.chisquare(dof, size=n))


def empirical_quantiles(sorted_x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Column-wise linear-interpolated quantiles of sorted samples at probabilities ``u``.

    Numpy's default ("linear") rule: position ``u (T - 1)`` between order statistics. Gathers
    through flat indices, which is faster than paired fancy indexing.
    """
    t, n = sorted_x.shape
    pos = u * (t - 1)
    lo = pos.astype(np.intp)  # u >= 0, so truncation is the floor
    np.minimum(lo, t - 2, out=lo)
    frac = pos - lo
    idx = lo * n
    idx += np.arange(n)
    base = np.take(np.ascontiguousarray(sorted_x).ravel(), idx)
    step = np.take(np.diff(sorted_x, axis=0).ravel(), idx)
    return base + frac * step


class _RowsNotKept(Exception):
    """A scenario the attribution needs was not kept by the one-day fast path."""


_CHUNK = 4096


def _one_day_projected(
    model, w, n_paths, *, distribution, nu, sampler, seed, confidence, n_threads=None
):
    """One-day portfolio returns ``w.mu + (z.b) * mix`` with ``b = root' w``, drawn in chunks.

    The asset-level draws are never all held: each chunk keeps only the rows whose portfolio
    move is beyond 90% of the model's own quantile at the edge of the VaR band, a superset of
    the tail and of the band that attribution reads (checked; :class:`_RowsNotKept` makes the
    caller simulate every asset instead). Antithetic paths come
    in pairs (+z, -z) sharing the Student-t mixing variable.
    """
    d = model.n_assets
    b = model.root_.T @ w
    s = float(np.sqrt(b @ b))
    a = 1.0 - confidence
    pairs = sampler == "antithetic"
    n_base = (n_paths + 1) // 2 if pairs else n_paths
    rng = np.random.default_rng(seed)
    # the least extreme row attribution reads is the top of the VaR band: its probability
    band = max(1, int(np.sqrt(n_paths) / 2))
    p_edge = min(0.5, (round((n_paths - 1) * a) + band + 2) / n_paths)
    if distribution == "student_t":
        mix = _t_mixing(rng, n_base, nu)
        q = stats.t.ppf(p_edge, nu) * s * np.sqrt((nu - 2.0) / nu)
    else:
        mix = None
        q = stats.norm.ppf(p_edge) * s
    threshold = 0.9 * abs(q)  # 10% margin for sampling noise; misses fall back (checked)
    engine = None
    if sampler == "sobol":
        from scipy.stats import qmc

        if d > 21201:
            raise ConfigError(f"Sobol draws support at most 21201 dimensions, not {d}")
        engine = qmc.Sobol(d=d, scramble=True, seed=seed)
    elif sampler not in SAMPLERS:
        raise ConfigError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    core = np.empty(n_base)
    starts = list(range(0, n_base, _CHUNK))
    b32 = b.astype(np.float32)

    def chunk(i: int):
        lo = starts[i]
        m = min(_CHUNK, n_base - lo)
        if engine is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # balance warning: chunks are not powers of 2
                z = stats.norm.ppf(np.clip(engine.random(m), 1e-12, 1 - 1e-12))
        else:
            # float32 draws: half the memory traffic; the MC error is ~1e3 times their rounding
            z = np.random.default_rng(chunk_seeds[i]).standard_normal((m, d), dtype=np.float32)
        c = (z @ (b if engine is not None else b32)).astype(float)
        if mix is not None:
            c *= mix[lo : lo + m]
        core[lo : lo + m] = c
        sel = np.flatnonzero(np.abs(c) >= threshold)
        return lo + sel, np.asarray(z[sel], dtype=float)

    if engine is not None:  # a Sobol sequence is sequential
        parts = [chunk(i) for i in range(len(starts))]
    else:
        # one child seed per chunk: the draws do not depend on how many threads run them
        chunk_seeds = np.random.SeedSequence(seed).spawn(len(starts))
        workers = max(1, min(n_threads or (os.cpu_count() or 1), len(starts)))
        if workers == 1:
            parts = [chunk(i) for i in range(len(starts))]
        else:
            # numpy releases the GIL in draws and BLAS; the chunks' matrix-vector products are
            # small, so BLAS runs single-threaded meanwhile instead of oversubscribing the cores
            with single_threaded_blas(), ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(chunk, range(len(starts))))
    kept = np.concatenate([p[0] for p in parts])
    kept_z = np.concatenate([p[1] for p in parts])
    # the rows that can reach the tail get their portfolio move again in float64, so the tail
    # figures and the attribution read from the same numbers
    exact = kept_z @ b
    if mix is not None:
        exact *= mix[kept]
    core[kept] = exact
    mu_p = float(model.mean_ @ w)
    if pairs:
        pnl = np.empty(2 * n_base)
        pnl[0::2] = mu_p + core
        pnl[1::2] = mu_p - core
        pnl = pnl[:n_paths]
    else:
        pnl = mu_p + core

    def rows(idx):
        idx = np.asarray(idx)
        base = idx // 2 if pairs else idx
        pos = np.searchsorted(kept, base)
        pos_c = np.minimum(pos, max(kept.size - 1, 0))
        if kept.size == 0 or not np.all(kept[pos_c] == base):
            raise _RowsNotKept
        zz = kept_z[pos_c]
        if pairs:
            zz = zz * np.where(idx % 2 == 0, 1.0, -1.0)[:, None]
        r = zz @ model.root_.T
        if mix is not None:
            r *= mix[base, None]
        return model.mean_ + r

    return pnl, rows


def _simulate_pruned(
    model, w, n_paths, *, horizon, distribution, nu, sampler, seed, confidence, n_threads=None
):
    """Every asset on every path, in chunks run on all cores; only the lowest paths are kept.

    Each chunk of paths has its own child seed (the draws do not depend on the thread count)
    and compounds ``horizon`` daily draws asset by asset. The main thread keeps the asset rows
    of the ``K`` lowest portfolio returns seen so far, ``K`` covering the ES tail and the VaR
    band, so memory stays at a few chunks whatever ``n_paths`` is.
    """
    d = model.n_assets
    if sampler not in SAMPLERS:
        raise ConfigError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    if sampler == "sobol" and d * horizon > 21201:
        raise ConfigError(
            f"Sobol draws support at most 21201 dimensions, not {d} assets x {horizon} days; "
            "use --sampler antithetic"
        )
    if distribution == "copula" and model.sorted_returns_ is None:
        raise ConfigError("fit the market model with copula=True for copula simulation")
    a = 1.0 - confidence
    k = tail_count(n_paths, confidence)
    band = max(1, int(np.sqrt(n_paths) / 2))
    keep = min(n_paths, max(k, int(round((n_paths - 1) * a)) + band + 1) + 2)
    starts = list(range(0, n_paths, _CHUNK))
    seeds = np.random.SeedSequence(seed).spawn(len(starts))
    root32 = (model.copula_root_ if distribution == "copula" else model.root_).T.astype(np.float32)

    def chunk(i: int):
        lo = starts[i]
        m = min(_CHUNK, n_paths - lo)
        rng = np.random.default_rng(seeds[i])
        u_sobol = None
        if sampler == "sobol":
            from scipy.stats import qmc

            eng = qmc.Sobol(d=d * horizon, scramble=True, seed=seed)
            if lo:  # scipy refuses fast_forward(0)
                eng.fast_forward(lo)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                u_sobol = np.clip(eng.random(m), 1e-12, 1 - 1e-12)
        growth = np.ones((m, d))
        for day in range(horizon):
            if u_sobol is not None:
                z = stats.norm.ppf(u_sobol[:, day * d : (day + 1) * d]).astype(np.float32)
            elif sampler == "antithetic":
                half = rng.standard_normal(((m + 1) // 2, d), dtype=np.float32)
                z = np.empty((2 * half.shape[0], d), dtype=np.float32)
                z[0::2] = half
                z[1::2] = -half
                z = z[:m]
            else:
                z = rng.standard_normal((m, d), dtype=np.float32)
            corr = (z @ root32).astype(float)
            if distribution == "normal":
                daily = model.mean_ + corr
            elif distribution == "student_t":
                if sampler == "antithetic":  # a pair (+z, -z) shares its mixing variable
                    mix = np.repeat(_t_mixing(rng, (m + 1) // 2, nu), 2)[:m]
                else:
                    mix = _t_mixing(rng, m, nu)
                daily = model.mean_ + corr * mix[:, None]
            else:
                daily = empirical_quantiles(model.sorted_returns_, special.ndtr(corr))
            growth *= 1.0 + daily
        sims = growth - 1.0
        return lo, sims @ w, sims

    pnl = np.empty(n_paths)
    kept_idx = np.empty(0, dtype=np.intp)
    kept_rows = np.empty((0, d))
    kept_p = np.empty(0)
    workers = max(1, min(n_threads or (os.cpu_count() or 1), len(starts)))

    def absorb(result):
        nonlocal kept_idx, kept_rows, kept_p
        lo, p, sims = result
        pnl[lo : lo + p.size] = p
        if kept_p.size >= keep:
            bound = kept_p.max()
            sel = np.flatnonzero(p <= bound)
        else:
            sel = np.arange(p.size)
        cand_p = np.concatenate([kept_p, p[sel]])
        cand_i = np.concatenate([kept_idx, lo + sel])
        cand_r = np.vstack([kept_rows, sims[sel]])
        if cand_p.size > keep:
            best = np.argpartition(cand_p, keep - 1)[:keep]
            cand_p, cand_i, cand_r = cand_p[best], cand_i[best], cand_r[best]
        kept_p, kept_idx, kept_rows = cand_p, cand_i, cand_r

    with single_threaded_blas():
        if workers == 1:
            for i in range(len(starts)):
                absorb(chunk(i))
        else:
            with ThreadPoolExecutor(workers) as pool:
                for result in pool.map(chunk, range(len(starts))):
                    absorb(result)
    order = np.argsort(kept_idx)
    kept_idx, kept_rows = kept_idx[order], kept_rows[order]

    def rows(idx):
        idx = np.asarray(idx)
        pos = np.minimum(np.searchsorted(kept_idx, idx), kept_idx.size - 1)
        if not np.all(kept_idx[pos] == idx):
            raise _RowsNotKept
        return kept_rows[pos]

    return pnl, rows


@blas_single
def monte_carlo_var(
    returns: ArrayLike | MarketModel,
    weights: ArrayLike,
    *,
    confidence: float = 0.95,
    horizon: int = 1,
    distribution: str = "normal",
    n_paths: int = 100_000,
    sampler: str = "antithetic",
    seed: int = 0,
    dof: float | None = None,
    keep_scenarios: bool = False,
    n_threads: int | None = None,
) -> VaRResult:
    """Monte Carlo VaR/ES with a standard error, seeded and reproducible.

    ``returns`` may be a fitted :class:`MarketModel` to reuse the estimate. For a one-day
    normal or Student-t model, portfolio returns are drawn as ``w.mu + z.(root' w)`` (the same
    draws, without forming every asset's return); asset rows are formed only for the tail and
    the VaR band, which attribution needs. Other cases simulate every asset on every path
    (compounded over ``horizon`` days) in chunks on all cores, keeping the lowest paths' rows.
    Results do not depend on ``n_threads`` (default: all cores): each chunk has its own seed.
    """
    confidence = check_confidence(confidence)
    h = check_horizon(horizon)
    if n_paths < 1000:
        raise ConfigError(f"n_paths {n_paths} is too few for a tail estimate; use >= 1000")
    if distribution not in ("normal", "student_t", "copula"):
        raise ConfigError(
            f"unknown Monte Carlo distribution {distribution!r}; choose normal, student_t or copula"
        )
    if isinstance(returns, MarketModel):
        model = returns
        nu = 5.0 if dof is None else float(dof)
    else:
        x = as_returns(returns, min_obs=3)
        model = fit_market_model(x, copula=distribution == "copula")
        nu = (
            float(dof)
            if dof is not None
            else (
                fit_student_t_dof(x @ as_weights(weights, x.shape[1]))
                if distribution == "student_t"
                else 5.0
            )
        )
    w = as_weights(weights, model.n_assets)
    method = {
        "normal": VaRMethod.MONTE_CARLO,
        "student_t": VaRMethod.MONTE_CARLO_STUDENT_T,
        "copula": VaRMethod.MONTE_CARLO_COPULA,
    }[distribution]
    details: dict = {"sampler": sampler, "seed": seed}
    if distribution == "student_t":
        details["dof"] = nu

    pnl = rows = None
    if h == 1 and distribution in ("normal", "student_t"):
        pnl, rows = _one_day_projected(
            model,
            w,
            n_paths,
            distribution=distribution,
            nu=nu,
            sampler=sampler,
            seed=seed,
            confidence=confidence,
            n_threads=n_threads,
        )
    if pnl is None:
        pnl, rows = _simulate_pruned(
            model,
            w,
            n_paths,
            horizon=h,
            distribution=distribution,
            nu=nu,
            sampler=sampler,
            seed=seed,
            confidence=confidence,
            n_threads=n_threads,
        )

    var, es = scenario_var_es(pnl, confidence)
    se_var, se_es = _batch_error(pnl, confidence)
    try:
        tail, band, band_p = _conditional_asset_means(pnl, confidence, rows)
    except _RowsNotKept:  # rare: the tail was not where the model put it; go the long way
        sims = simulate_asset_returns(
            model,
            n_paths,
            horizon=h,
            distribution=distribution,
            dof=nu,
            sampler=sampler,
            seed=seed,
        )
        pnl = sims @ w
        var, es = scenario_var_es(pnl, confidence)
        se_var, se_es = _batch_error(pnl, confidence)
        tail, band, band_p = _conditional_asset_means(pnl, confidence, lambda idx: sims[idx])
    scale = var / band_p if band_p != 0 else 1.0
    return VaRResult(
        method.value,
        var,
        es,
        confidence,
        h,
        mc_error=se_var,
        es_mc_error=se_es,
        n_scenarios=n_paths,
        details=details,
        asset_tail_mean=tail,
        asset_var_mean=band * scale,
        scenarios=pnl if keep_scenarios else None,
    )


# --------------------------------------------------------------------------------------------
# one entry point


def compute_var(
    method: str | VaRMethod,
    returns: ArrayLike,
    weights: ArrayLike,
    *,
    confidence: float = 0.95,
    horizon: int = 1,
    n_paths: int = 100_000,
    seed: int = 0,
    sampler: str = "antithetic",
    decay: float = 0.99,
    keep_scenarios: bool = False,
) -> VaRResult:
    """Dispatch a :class:`VaRMethod` name to its estimator."""
    try:
        m = VaRMethod(method)
    except ValueError:
        raise ConfigError(
            f"unknown VaR method {method!r}; choose one of {', '.join(v.value for v in VaRMethod)}"
        ) from None
    common = {"confidence": confidence, "horizon": horizon}
    if m is VaRMethod.PARAMETRIC:
        return parametric_var(returns, weights, distribution="normal", **common)
    if m is VaRMethod.PARAMETRIC_STUDENT_T:
        return parametric_var(returns, weights, distribution="student_t", **common)
    if m is VaRMethod.PARAMETRIC_CORNISH_FISHER:
        return parametric_var(returns, weights, distribution="cornish_fisher", **common)
    if m is VaRMethod.HISTORICAL:
        return historical_var(returns, weights, **common)
    if m is VaRMethod.HISTORICAL_AGE_WEIGHTED:
        return historical_var(returns, weights, decay=decay, **common)
    dist = {
        VaRMethod.MONTE_CARLO: "normal",
        VaRMethod.MONTE_CARLO_STUDENT_T: "student_t",
        VaRMethod.MONTE_CARLO_COPULA: "copula",
    }[m]
    return monte_carlo_var(
        returns,
        weights,
        distribution=dist,
        n_paths=n_paths,
        seed=seed,
        sampler=sampler,
        keep_scenarios=keep_scenarios,
        **common,
    )


def value_at_risk(
    returns: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    method: str | VaRMethod = VaRMethod.HISTORICAL,
    confidence: float = 0.95,
    horizon: int = 1,
    **options,
) -> VaRResult:
    """The short form: VaR/ES of a return series, or of a weighted table of asset returns.

    A 1-D ``returns`` is one portfolio's daily returns; a 2-D table without ``weights`` is held
    in equal weights. ``options`` go to :func:`compute_var` (``n_paths``, ``seed``, ...).
    """
    x = np.asarray(returns, dtype=float)
    if weights is None:
        n = 1 if x.ndim == 1 else x.shape[1]
        weights = np.full(n, 1.0 / n)
    return compute_var(method, returns, weights, confidence=confidence, horizon=horizon, **options)


def methods_for(family: str) -> tuple[VaRMethod, ...]:
    """The methods a ``--method`` family name stands for (``parametric``, ..., ``all``)."""
    try:
        return METHOD_FAMILIES[family]
    except KeyError:
        try:
            return (VaRMethod(family),)
        except ValueError:
            raise ConfigError(
                f"unknown --method {family!r}; choose parametric, historical, monte_carlo, all "
                f"or one of {', '.join(v.value for v in VaRMethod)}"
            ) from None
