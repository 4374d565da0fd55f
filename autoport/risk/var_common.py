"""What every VaR estimator shares: method names, choices, the result type, input checks.

Conventions (the same as empyrical and the rest of autoport):

- inputs are *daily simple returns* of the assets, shape ``(n_observations, n_assets)``, and
  portfolio ``weights`` (fractions of capital, one per asset);
- VaR and ES are *portfolio returns over the horizon*: negative numbers mean losses. At
  confidence 0.95, VaR is the 5% quantile of the horizon return and ES the mean return in that
  tail, so ``ES <= VaR`` always;
- a horizon of ``h`` days means a buy-and-hold position over ``h`` sessions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

import numpy as np
import pandas as pd

from autoport.errors import ConfigError, DataError

ArrayLike = np.ndarray | pd.DataFrame | pd.Series
Choice = TypeVar("Choice", bound=StrEnum)


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




class Distribution(StrEnum):
    """The return distribution a parametric or Monte Carlo estimate assumes."""

    NORMAL = "normal"
    STUDENT_T = "student_t"
    CORNISH_FISHER = "cornish_fisher"  # parametric only
    COPULA = "copula"  # Monte Carlo only: Gaussian copula over empirical marginals


PARAMETRIC_DISTRIBUTIONS = (Distribution.NORMAL, Distribution.STUDENT_T,
                            Distribution.CORNISH_FISHER)
MONTE_CARLO_DISTRIBUTIONS = (Distribution.NORMAL, Distribution.STUDENT_T, Distribution.COPULA)


class Sampler(StrEnum):
    """How Monte Carlo draws its standard normals."""

    ANTITHETIC = "antithetic"  # pairs (+z, -z)
    SOBOL = "sobol"  # scrambled Sobol points through the normal quantile
    PLAIN = "plain"  # independent pseudo-random draws


SAMPLERS = tuple(s.value for s in Sampler)


def choice(kind: type[Choice], value: object, what: str,
           allowed: tuple[Choice, ...] | None = None) -> Choice:
    """``value`` as a member of ``kind`` (a str-valued enum), or one ``ConfigError`` naming
    the value and the choices (``allowed``, default all members)."""
    options = allowed if allowed is not None else tuple(kind)
    try:
        member = kind(value)
    except ValueError:
        member = None
    if member is None or member not in options:
        raise ConfigError(
            f"unknown {what} {value!r}; choose one of {', '.join(o.value for o in options)}"
        )
    return member


# --------------------------------------------------------------------------------------------
# input checks


def check_confidence(confidence: float) -> float:
    """The confidence level as a float, or one ``ConfigError``.

    Parameters
    ----------
    confidence
        Probability of doing better than VaR, in (0.5, 1): 0.95 or 0.99.
    """
    confidence = float(confidence)
    if not 0.5 < confidence < 1.0:
        raise ConfigError(
            f"confidence {confidence} must lie strictly between 0.5 and 1 (for example 0.95 or "
            "0.99); it is the probability of doing better than VaR"
        )
    return confidence


def check_horizon(horizon: int) -> int:
    """The horizon as an int, or one ``ConfigError``.

    Parameters
    ----------
    horizon
        Days the loss is measured over: a whole number, 1 or more.
    """
    if int(horizon) != horizon or horizon < 1:
        raise ConfigError(f"horizon {horizon} must be a whole number of days >= 1 (1, 5, 10)")
    return int(horizon)


def as_returns(returns: ArrayLike, *, min_obs: int = 2) -> np.ndarray:
    """Daily asset returns as a finite float array of shape (n_observations, n_assets).

    Parameters
    ----------
    returns
        Daily simple returns, shape (T, N) or (T,) for one asset.
    min_obs
        Fewest rows accepted.
    """
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
        raise DataError(
            "a daily return is -100% or worse, which a positive price cannot give; the "
            "returns were not computed from a clean price panel (autoport.data.validate_prices)"
        )
    return x


def as_weights(weights: ArrayLike, n_assets: int) -> np.ndarray:
    """Weights as a finite float array of shape (n_assets,), or one ``DataError``.

    Parameters
    ----------
    weights
        Portfolio weights per asset (fractions of the value).
    n_assets
        Number of assets N the returns hold.
    """
    w = np.asarray(weights, dtype=float).ravel()
    if w.shape[0] != n_assets:
        raise DataError(f"{w.shape[0]} weights for {n_assets} assets; give one weight per asset")
    if not np.isfinite(w).all():
        raise DataError("weights contain NaN or infinite values")
    return w


def alpha(confidence: float) -> float:
    """The tail probability ``1 - confidence``, after checking the confidence."""
    return 1.0 - check_confidence(confidence)


