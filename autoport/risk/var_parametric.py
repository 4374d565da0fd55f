"""Closed-form VaR and ES: normal, Student-t and Cornish-Fisher on the portfolio's moments.

A multi-day horizon aggregates the one-day distribution's cumulants as for a sum of ``h`` iid
days (mean ``h mu``, volatility ``sqrt(h) sigma``; Cornish-Fisher skewness ``/sqrt(h)`` and
excess kurtosis ``/h``). For Student-t this is the usual square-root-of-time approximation.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import integrate, stats

from autoport._blas import blas_single
from autoport.errors import ConfigError
from autoport.risk.var_common import (
    PARAMETRIC_DISTRIBUTIONS,
    ArrayLike,
    Distribution,
    VaRMethod,
    VaRResult,
    alpha,
    as_returns,
    as_weights,
    check_confidence,
    check_horizon,
    choice,
)


# --------------------------------------------------------------------------------------------
# closed forms on one distribution


def normal_var_es(mu: float, sigma: float, confidence: float) -> tuple[float, float]:
    """VaR = mu + z_a sigma and ES = mu - sigma phi(z_a) / a, with a = 1 - confidence.

    Parameters
    ----------
    mu, sigma
        Mean and standard deviation of the portfolio's return over the horizon.
    confidence
        Probability of doing better than VaR, in (0.5, 1): 0.95 or 0.99.
    """
    a = alpha(confidence)
    z = stats.norm.ppf(a)
    return mu + z * sigma, mu - sigma * stats.norm.pdf(z) / a


def student_t_var_es(mu: float, sigma: float, dof: float, confidence: float) -> tuple[float, float]:
    """Student-t with ``dof`` > 2 scaled so its standard deviation is ``sigma``.

    ES = mu - s (nu + t_a^2) f_nu(t_a) / ((nu - 1) a), s = sigma sqrt((nu - 2) / nu).

    Parameters
    ----------
    mu, sigma
        Mean and standard deviation of the portfolio's return over the horizon.
    dof
        Degrees of freedom, > 2.
    confidence
        Probability of doing better than VaR, in (0.5, 1): 0.95 or 0.99.
    """
    if not dof > 2:
        raise ConfigError(f"Student-t degrees of freedom {dof} must exceed 2 (finite variance)")
    a = alpha(confidence)
    scale = sigma * np.sqrt((dof - 2.0) / dof)
    t = stats.t.ppf(a, dof)
    es_std = -(dof + t * t) / (dof - 1.0) * stats.t.pdf(t, dof) / a
    return mu + scale * t, mu + scale * es_std


def cornish_fisher_quantile(p: np.ndarray | float, skew: float, exkurt: float) -> np.ndarray:
    """Cornish-Fisher expansion of the standardised quantile at probability ``p``.

    Parameters
    ----------
    p
        Probabilities in (0, 1).
    skew, exkurt
        Skewness and excess kurtosis of the portfolio's return over the horizon.
    """
    z = stats.norm.ppf(p)
    return (
        z
        + (z**2 - 1.0) * skew / 6.0
        + (z**3 - 3.0 * z) * exkurt / 24.0
        - (2.0 * z**3 - 5.0 * z) * skew**2 / 36.0
    )


def cornish_fisher_monotone(skew: float, exkurt: float, confidence: float) -> bool:
    """Whether the expansion's quantile rises with probability over (1e-6, a]: valid there.

    Parameters
    ----------
    skew, exkurt
        Skewness and excess kurtosis of the portfolio's return over the horizon.
    confidence
        Probability of doing better than VaR, in (0.5, 1): 0.95 or 0.99.
    """
    p = np.geomspace(1e-6, alpha(confidence), 400)
    return bool(np.all(np.diff(cornish_fisher_quantile(p, skew, exkurt)) > 0))


def cornish_fisher_valid(skew: float, exkurt: float, z_max: float = 6.0) -> bool:
    """Whether the expansion is increasing in ``z`` over ``|z| <= z_max``: a distribution there.

    Its derivative in ``z`` is ``a z^2 + b z + c`` with ``a = K/8 - S^2/6``, ``b = S/3`` and
    ``c = 1 - K/8 + 5 S^2/36`` (Maillard 2012, "A user's guide to the Cornish Fisher
    expansion", takes all ``z``: ``0 <= K <= 8`` for ``S = 0``). Over six standard deviations
    a slightly negative kurtosis stays valid; past an excess kurtosis of 8 the body folds over
    and tail quantiles overshoot (the bundled 1/N's 13.9 doubles the historical 99% VaR).

    Parameters
    ----------
    skew, exkurt
        Skewness and excess kurtosis of the portfolio's return over the horizon.
    z_max
        Half-width of the range of standard normal ``z`` checked.
    """
    a = exkurt / 8.0 - skew**2 / 6.0
    b = skew / 3.0
    c = 1.0 - exkurt / 8.0 + 5.0 * skew**2 / 36.0
    points = [-z_max, z_max]
    if a != 0 and abs(b / (2 * a)) <= z_max:
        points.append(-b / (2 * a))  # the vertex, where the derivative is extreme
    return bool(min(a * z * z + b * z + c for z in points) > 0)


def cornish_fisher_var_es(
    mu: float, sigma: float, skew: float, exkurt: float, confidence: float
) -> tuple[float, float]:
    """VaR from the Cornish-Fisher quantile; ES = (1/a) integral of the quantile over (0, a).

    Parameters
    ----------
    mu, sigma
        Mean and standard deviation of the portfolio's return over the horizon.
    skew, exkurt
        Skewness and excess kurtosis of the portfolio's return over the horizon.
    confidence
        Probability of doing better than VaR, in (0.5, 1): 0.95 or 0.99.
    """
    a = alpha(confidence)
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
    """Degrees of freedom by maximum likelihood (location and scale free), kept in (2.1, 100].

    Parameters
    ----------
    x
        Daily returns of one portfolio, shape (T,).
    """
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
    distribution: Distribution | str = Distribution.NORMAL,
    dof: float | None = None,
) -> VaRResult:
    """Closed-form VaR/ES of the portfolio from the mean and covariance of daily returns.

    ``distribution``: ``normal``, ``student_t`` (``dof`` fitted by ML on the portfolio's
    returns unless given) or ``cornish_fisher`` (sample skewness and excess kurtosis of the
    portfolio's returns).

    Parameters
    ----------
    returns
        Daily simple returns of the assets, shape (T, N).
    weights
        Portfolio weights per asset, shape (N,): fractions of the value (long-only: sum to 1).
    confidence
        Probability of doing better than VaR, in (0.5, 1): 0.95 or 0.99.
    horizon
        Days the loss is measured over (1, 5, 10).
    distribution
        ``normal``, ``student_t`` or ``cornish_fisher``.
    dof
        Degrees of freedom of ``student_t``; None: fitted by maximum likelihood.
    """
    x = as_returns(returns, min_obs=3)
    w = as_weights(weights, x.shape[1])
    h = check_horizon(horizon)
    confidence = check_confidence(confidence)
    dist = choice(Distribution, distribution, "parametric distribution",
                  PARAMETRIC_DISTRIBUTIONS)
    # w' Sigma w equals the sample variance of the portfolio's returns: O(T n), no n x n matrix
    rp = x @ w
    mu_d = float(rp.mean())
    sigma_d = float(rp.std(ddof=1))
    mu, sigma = h * mu_d, np.sqrt(h) * sigma_d
    details: dict = {}
    if dist is Distribution.NORMAL:
        var, es = normal_var_es(mu, sigma, confidence)
        method = VaRMethod.PARAMETRIC
    elif dist is Distribution.STUDENT_T:
        nu = fit_student_t_dof(rp) if dof is None else float(dof)
        var, es = student_t_var_es(mu, sigma, nu, confidence)
        method = VaRMethod.PARAMETRIC_STUDENT_T
        details["dof"] = nu
    else:  # Distribution.CORNISH_FISHER
        skew = float(stats.skew(rp)) / np.sqrt(h)
        exkurt = float(stats.kurtosis(rp)) / h
        var, es = cornish_fisher_var_es(mu, sigma, skew, exkurt, confidence)
        method = VaRMethod.PARAMETRIC_CORNISH_FISHER
        details.update(skewness=float(skew), excess_kurtosis=float(exkurt))
        if not cornish_fisher_valid(skew, exkurt) or not cornish_fisher_monotone(
            skew, exkurt, confidence
        ):
            details["note"] = (
                f"skewness {skew:.2f} and excess kurtosis {exkurt:.2f} lie outside the "
                "Cornish-Fisher expansion's valid range (it is increasing only for excess "
                "kurtosis below 8 when skewness is 0); its VaR and ES are unreliable "
                "(prefer historical or Monte Carlo)"
            )
    return VaRResult(method.value, float(var), float(es), confidence, h, details=details)


