"""Historical simulation: plain (the tail rule of autoport.measures) and age-weighted (BRW)."""

from __future__ import annotations

import numpy as np

from autoport._blas import blas_single
from autoport.errors import ConfigError
from autoport.risk.var_common import (
    ArrayLike,
    VaRMethod,
    VaRResult,
    as_returns,
    as_weights,
    check_confidence,
    check_horizon,
)
from autoport.risk.var_scenarios import (
    conditional_asset_means,
    horizon_asset_returns,
    scenario_var_es,
    weighted_var_es,
)


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

    ``decay=None``: plain, by the tail rule of :mod:`autoport.measures` (VaR the
    ``inverted_cdf`` quantile, ES the mean of tail mass ``1 - confidence``).
    ``decay=lambda`` in (0, 1): Boudoukh-Richardson-Whitelaw age weighting, weight
    ``lambda**age`` (age 0 = most recent window).

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
    decay
        None: plain historical simulation; λ in (0, 1): age weights ``λ**age``.
    """
    x = as_returns(returns, min_obs=2)
    w = as_weights(weights, x.shape[1])
    h = check_horizon(horizon)
    confidence = check_confidence(confidence)
    hx = horizon_asset_returns(x, h)
    pnl = hx @ w
    a = 1.0 - confidence
    if decay is None:
        var, es = scenario_var_es(pnl, confidence)
        tail, band, band_p = conditional_asset_means(pnl, confidence, lambda idx: hx[idx])
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
