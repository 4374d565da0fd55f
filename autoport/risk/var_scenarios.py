"""Tail rules on a set of scenarios (history or simulation): VaR, ES and the assets behind them.

VaR and ES follow the one tail rule of :mod:`autoport.measures` (the discrete distribution of
the scenarios: VaR the ``inverted_cdf`` quantile, ES the mean of tail mass ``a`` with the VaR
scenario counted fractionally; as a loss, the Rockafellar-Uryasev CVaR the optimizer
minimises), with equal or per-scenario (age weighting) probabilities; the tail's asset means
weight the scenarios the same way, so they add up to ES. Historical windows of ``h`` days
overlap and compound asset by asset (buy and hold).
"""

from __future__ import annotations

import numpy as np

from autoport import measures as M
from autoport.errors import DataError
from autoport.risk.var_common import alpha


def tail_count(n: int, confidence: float) -> int:
    """empyrical's tail size ``floor((n - 1) a) + 1`` (the VaR backtest's historical ES).

    Parameters
    ----------
    n
        Number of observations.
    confidence
        Probability of doing better than VaR, in (0.5, 1): 0.95 or 0.99.
    """
    return int((n - 1) * alpha(confidence)) + 1


def scenario_var_es(pnl: np.ndarray, confidence: float) -> tuple[float, float]:
    """(VaR, ES) as returns by the tail rule of :mod:`autoport.measures`.

    Parameters
    ----------
    pnl
        The portfolio's return in each scenario, shape (S,).
    confidence
        Probability of doing better than VaR, in (0.5, 1): 0.95 or 0.99.
    """
    return M.var_es(np.asarray(pnl, dtype=float), alpha(confidence))


def conditional_asset_means(
    pnl: np.ndarray, confidence: float, asset_rows
) -> tuple[np.ndarray, np.ndarray, float]:
    """E[r_i | tail] and E[r_i | near VaR] by reading asset rows for the chosen scenarios only.

    ``asset_rows(idx)`` returns the horizon asset returns of scenarios ``idx``. "Near VaR" is
    the band of the ``2m + 1`` order statistics around the quantile, ``m ~ sqrt(n)/2``; the
    band mean of ``r_p`` is returned so callers can rescale to the exact VaR (Hallerbach).
    """
    n = pnl.size
    a = alpha(confidence)
    k = M.tail_size(n, a)
    tail_idx = np.argpartition(pnl, k - 1)[:k]
    share = np.ones((k, 1)) / n
    share[np.argmax(pnl[tail_idx])] = a - (k - 1) / n  # the VaR scenario's fractional part
    tail_mean = (share * asset_rows(tail_idx)).sum(0) / a
    m = max(1, int(np.sqrt(n) / 2))
    pos = int(round((n - 1) * alpha(confidence)))
    lo, hi = max(0, pos - m), min(n, pos + m + 1)
    band_idx = np.argsort(pnl)[lo:hi] if n <= 200_000 else np.argpartition(pnl, (lo, hi - 1))[lo:hi]
    band_rows = asset_rows(band_idx)
    return tail_mean, band_rows.mean(0), float(pnl[band_idx].mean())


def horizon_asset_returns(x: np.ndarray, horizon: int) -> np.ndarray:
    """Overlapping ``horizon``-day compounded returns per asset (one row per window).

    Parameters
    ----------
    x
        Daily simple returns of the assets, shape (T, N).
    horizon
        Days the loss is measured over (1, 5, 10).
    """
    if horizon == 1:
        return x
    if x.shape[0] < horizon + 1:
        raise DataError(
            f"{x.shape[0]} days of returns cannot form {horizon}-day windows; pass a longer "
            "history or a shorter horizon"
        )
    logcum = np.vstack([np.zeros(x.shape[1]), np.cumsum(np.log1p(x), axis=0)])
    return np.expm1(logcum[horizon:] - logcum[:-horizon])




def weighted_var_es(
    pnl: np.ndarray, prob: np.ndarray, confidence: float
) -> tuple[float, float, np.ndarray]:
    """Quantile and tail mean of a discrete distribution with probabilities ``prob``.

    VaR is the smallest outcome whose cumulative probability reaches ``a``; ES averages the
    outcomes below it plus the fraction of the VaR outcome that completes mass ``a``. Returns
    the per-scenario tail weights too (summing to ``a``).

    Parameters
    ----------
    pnl
        The portfolio's return in each scenario, shape (S,).
    prob
        Probability of each scenario, shape (S,), summing to 1.
    confidence
        Probability of doing better than VaR, in (0.5, 1): 0.95 or 0.99.
    """
    a = alpha(confidence)
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
