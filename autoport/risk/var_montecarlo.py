"""Monte Carlo VaR and ES: a fitted market model, seeded draws, a batch-means standard error.

Each path draws ``h`` daily return vectors and compounds them asset by asset, never a
square-root-of-time rescaling. The standard normals come from one place,
:func:`standard_normals` (antithetic pairs, scrambled Sobol points or plain draws).

The standard error is measured by batch means over 20 blocks of consecutive paths (antithetic
pairs stay in one block): independent blocks for pseudo-random draws; for Sobol draws the
blocks are pieces of one scrambled sequence, each less uniform than the whole, so the reported
error is conservative there.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from autoport._blas import blas_single, single_threaded_blas
from autoport.errors import ConfigError
from autoport.risk.var_common import (
    MONTE_CARLO_DISTRIBUTIONS,
    ArrayLike,
    Distribution,
    Sampler,
    VaRMethod,
    VaRResult,
    as_returns,
    as_weights,
    check_confidence,
    check_horizon,
    choice,
)
from autoport.risk.var_parametric import fit_student_t_dof
from autoport.risk.var_scenarios import conditional_asset_means, scenario_var_es, tail_count



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
    """A lower-triangular Cholesky factor, or a symmetric eigen-root when ``cov`` is singular.

    Parameters
    ----------
    cov
        Covariance matrix, shape (N, N).
    """
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(cov)
        return vecs * np.sqrt(np.clip(vals, 0.0, None))


@blas_single
def fit_market_model(returns: ArrayLike, *, copula: bool = False) -> MarketModel:
    """Sample mean and covariance of daily returns (and the copula's pieces when asked).

    Parameters
    ----------
    returns
        Daily simple returns of the assets, shape (T, N).
    copula
        Also keep the sorted returns and the normal scores' correlation root (copula model).
    """
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


# --------------------------------------------------------------------------------------------
# standard normal draws: each sampler written once

SOBOL_MAX_DIMENSION = 21201  # scipy's direction numbers


def antithetic(half: np.ndarray, n: int) -> np.ndarray:
    """``half[0], -half[0], half[1], -half[1], ...`` cut to ``n`` rows: any block of
    consecutive rows holds whole pairs (the batch-means error relies on it)."""
    out = np.empty((2 * half.shape[0], *half.shape[1:]), dtype=half.dtype)
    out[0::2] = half
    out[1::2] = -half
    return out[:n]


def sobol_normals(d: int, n: int, *, seed: int, start: int = 0) -> np.ndarray:
    """Points ``start .. start + n`` of a scrambled ``d``-dimensional Sobol sequence through
    the normal quantile (float64); chunks of one sequence can be drawn independently."""
    if d > SOBOL_MAX_DIMENSION:
        raise ConfigError(
            f"Sobol draws support at most {SOBOL_MAX_DIMENSION} dimensions (assets x horizon "
            f"days), not {d}; choose the antithetic or plain sampler"
        )
    from scipy.stats import qmc

    engine = qmc.Sobol(d=d, scramble=True, seed=seed)
    if start:  # scipy refuses fast_forward(0)
        engine.fast_forward(start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # balance warning when n is not a power of two
        u = engine.random(n)
    return stats.norm.ppf(np.clip(u, 1e-12, 1 - 1e-12))


def standard_normals(
    n: int,
    d: int,
    *,
    rng: np.random.Generator,
    sampler: Sampler | str,
    seed: int,
    start: int = 0,
    dtype: type = np.float64,
) -> np.ndarray:
    """``n`` rows of ``d`` independent N(0, 1) draws.

    antithetic: ``(n + 1) // 2`` draws from ``rng`` and their negations, interleaved
    (:func:`antithetic`); plain: ``n`` draws from ``rng``; both in ``dtype``. sobol: rows
    ``start .. start + n`` of the scrambled sequence seeded by ``seed`` (float64; ``rng``
    unused).

    Parameters
    ----------
    n
        Rows (paths).
    d
        Columns (dimensions).
    rng
        Generator of the ``antithetic`` and ``plain`` draws.
    sampler
        ``antithetic``, ``plain`` or ``sobol``.
    seed
        Seed of the Sobol scrambling.
    start
        First Sobol point drawn.
    dtype
        Float type of ``antithetic`` and ``plain`` draws.
    """
    sampler = choice(Sampler, sampler, "sampler")
    if sampler is Sampler.SOBOL:
        return sobol_normals(d, n, seed=seed, start=start)
    if sampler is Sampler.ANTITHETIC:
        return antithetic(rng.standard_normal(((n + 1) // 2, d), dtype=dtype), n)
    return rng.standard_normal((n, d), dtype=dtype)


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
    distribution: Distribution | str = Distribution.NORMAL,
    dof: float = 5.0,
    sampler: Sampler | str = Sampler.ANTITHETIC,
    seed: int = 0,
) -> np.ndarray:
    """Horizon returns per asset on ``n_paths`` simulated paths, shape (n_paths, n_assets).

    Each path draws ``horizon`` daily return vectors and compounds them asset by asset.
    ``normal``: mean + root z. ``student_t``: multivariate t with ``dof`` scaled to the
    covariance. ``copula``: Gaussian copula on normal scores mapped to each asset's empirical
    distribution (linear interpolation between order statistics).

    Parameters
    ----------
    model
        Fitted daily mean and covariance (:func:`fit_market_model`).
    n_paths
        Simulated paths.
    horizon
        Days the loss is measured over (1, 5, 10).
    distribution
        ``normal``, ``student_t`` or ``copula``.
    dof
        Degrees of freedom of ``student_t`` (> 2).
    sampler
        ``antithetic``, ``plain`` or ``sobol``.
    seed
        Seed of the draws.
    """
    distribution = choice(Distribution, distribution, "Monte Carlo distribution",
                          MONTE_CARLO_DISTRIBUTIONS)
    rng = np.random.default_rng(seed)
    n = model.n_assets
    growth = np.ones((n_paths, n))
    for day in range(horizon):
        z = standard_normals(n_paths, n, rng=rng, sampler=sampler, seed=seed + 7919 * day)
        daily = _daily_from_normals(model, z, rng, distribution, dof)
        growth *= 1.0 + daily
    return growth - 1.0


def _daily_from_normals(model, z, rng, distribution: Distribution, dof):
    if distribution is Distribution.NORMAL:
        return model.mean_ + z @ model.root_.T
    if distribution is Distribution.STUDENT_T:
        mix = _t_mixing(rng, z.shape[0], dof)
        return model.mean_ + (z @ model.root_.T) * mix[:, None]
    _check_copula(model)
    u = stats.norm.cdf(z @ model.copula_root_.T)
    return empirical_quantiles(model.sorted_returns_, u)


def _check_copula(model: MarketModel) -> None:
    if model.sorted_returns_ is None:
        raise ConfigError("fit the market model with copula=True for copula simulation")


def _t_mixing(rng: np.random.Generator, n: int, dof: float) -> np.ndarray:
    """sqrt((nu - 2) / chi2_nu): turns N(0, cov) into a t with covariance ``cov``."""
    if not dof > 2:
        raise ConfigError(f"Student-t degrees of freedom {dof} must exceed 2 (finite variance)")
    return np.sqrt((dof - 2.0) / rng.chisquare(dof, size=n))


def empirical_quantiles(sorted_x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Column-wise linear-interpolated quantiles of sorted samples at probabilities ``u``.

    Numpy's default ("linear") rule: position ``u (T - 1)`` between order statistics. Gathers
    through flat indices, which is faster than paired fancy indexing.

    Parameters
    ----------
    sorted_x
        Samples sorted in each column, shape (T, N).
    u
        Probabilities in [0, 1], shape (P, N).
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



def _workers(n_threads: int | None, n_chunks: int) -> int:
    return max(1, min(n_threads or (os.cpu_count() or 1), n_chunks))


def _one_day_projected(
    model, w, n_paths, *, distribution, nu, sampler, seed, confidence, n_threads=None
):
    """One-day portfolio returns ``w.mu + (z.b) * mix`` with ``b = root' w``, drawn in chunks.

    The asset-level draws are never all held: each chunk keeps only the rows whose portfolio
    move is beyond 90% of the model's own quantile at the edge of the VaR band, a superset of
    the tail and of the band that attribution reads (checked; :class:`_RowsNotKept` makes the
    caller simulate every asset instead). Antithetic paths come in pairs (+z, -z) sharing the
    Student-t mixing variable: the chunks draw the pairs' first halves and the pairs are formed
    on the portfolio moves.
    """
    d = model.n_assets
    b = model.root_.T @ w
    s = float(np.sqrt(b @ b))
    a = 1.0 - confidence
    pairs = sampler is Sampler.ANTITHETIC
    draws = Sampler.PLAIN if pairs else sampler
    n_base = (n_paths + 1) // 2 if pairs else n_paths
    rng = np.random.default_rng(seed)
    # the least extreme row attribution reads is the top of the VaR band: its probability
    band = max(1, int(np.sqrt(n_paths) / 2))
    p_edge = min(0.5, (round((n_paths - 1) * a) + band + 2) / n_paths)
    if distribution is Distribution.STUDENT_T:
        mix = _t_mixing(rng, n_base, nu)
        q = stats.t.ppf(p_edge, nu) * s * np.sqrt((nu - 2.0) / nu)
    else:
        mix = None
        q = stats.norm.ppf(p_edge) * s
    threshold = 0.9 * abs(q)  # 10% margin for sampling noise; misses fall back (checked)
    core = np.empty(n_base)
    starts = list(range(0, n_base, _CHUNK))
    # one child seed per chunk: the draws do not depend on how many threads run them
    chunk_seeds = np.random.SeedSequence(seed).spawn(len(starts))
    b32 = b.astype(np.float32)

    def chunk(i: int):
        lo = starts[i]
        m = min(_CHUNK, n_base - lo)
        # float32 pseudo-random draws: half the memory traffic; the MC error is ~1e3 times
        # their rounding (Sobol points stay float64)
        z = standard_normals(m, d, rng=np.random.default_rng(chunk_seeds[i]), sampler=draws,
                             seed=seed, start=lo, dtype=np.float32)
        c = (z @ (b if z.dtype == np.float64 else b32)).astype(float)
        if mix is not None:
            c *= mix[lo : lo + m]
        core[lo : lo + m] = c
        sel = np.flatnonzero(np.abs(c) >= threshold)
        return lo + sel, np.asarray(z[sel], dtype=float)

    workers = 1 if draws is Sampler.SOBOL else _workers(n_threads, len(starts))
    if workers == 1:  # Sobol chunks run in order: warnings.catch_warnings is not thread-safe
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
    pnl = mu_p + (antithetic(core, n_paths) if pairs else core)

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
    if distribution is Distribution.COPULA:
        _check_copula(model)
    a = 1.0 - confidence
    k = tail_count(n_paths, confidence)
    band = max(1, int(np.sqrt(n_paths) / 2))
    keep = min(n_paths, max(k, int(round((n_paths - 1) * a)) + band + 1) + 2)
    starts = list(range(0, n_paths, _CHUNK))
    seeds = np.random.SeedSequence(seed).spawn(len(starts))
    copula = distribution is Distribution.COPULA
    root32 = (model.copula_root_ if copula else model.root_).T.astype(np.float32)

    def chunk(i: int):
        lo = starts[i]
        m = min(_CHUNK, n_paths - lo)
        rng = np.random.default_rng(seeds[i])
        # a Sobol path's horizon days are dimensions of one point: drawn once per chunk
        sobol = (sobol_normals(d * horizon, m, seed=seed, start=lo)
                 if sampler is Sampler.SOBOL else None)
        growth = np.ones((m, d))
        for day in range(horizon):
            if sobol is not None:
                z = sobol[:, day * d : (day + 1) * d].astype(np.float32)
            else:
                z = standard_normals(m, d, rng=rng, sampler=sampler, seed=seed,
                                     dtype=np.float32)
            corr = (z @ root32).astype(float)
            if distribution is Distribution.NORMAL:
                daily = model.mean_ + corr
            elif distribution is Distribution.STUDENT_T:
                if sampler is Sampler.ANTITHETIC:  # a pair (+z, -z) shares its mixing variable
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
    workers = _workers(n_threads, len(starts))

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
    distribution: Distribution | str = Distribution.NORMAL,
    n_paths: int = 100_000,
    sampler: Sampler | str = Sampler.ANTITHETIC,
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

    Parameters
    ----------
    returns
        Daily simple returns of the assets, shape (T, N), or a fitted :class:`MarketModel`.
    weights
        Portfolio weights per asset, shape (N,): fractions of the value (long-only: sum to 1).
    confidence
        Probability of doing better than VaR, in (0.5, 1): 0.95 or 0.99.
    horizon
        Days the loss is measured over (1, 5, 10).
    distribution
        ``normal``, ``student_t`` or ``copula``.
    n_paths
        Simulated paths.
    sampler
        ``antithetic``, ``plain`` or ``sobol``.
    seed
        Seed of the draws.
    dof
        Degrees of freedom of ``student_t``; None: fitted on the portfolio's returns.
    keep_scenarios
        Keep every path's portfolio return in the result.
    n_threads
        Threads for the chunks; None: all cores.
    """
    confidence = check_confidence(confidence)
    h = check_horizon(horizon)
    if n_paths < 1000:
        raise ConfigError(f"n_paths {n_paths} is too few for a tail estimate; use >= 1000")
    distribution = choice(Distribution, distribution, "Monte Carlo distribution",
                          MONTE_CARLO_DISTRIBUTIONS)
    sampler = choice(Sampler, sampler, "sampler")
    if isinstance(returns, MarketModel):
        model = returns
        nu = 5.0 if dof is None else float(dof)
    else:
        x = as_returns(returns, min_obs=3)
        model = fit_market_model(x, copula=distribution is Distribution.COPULA)
        nu = (
            float(dof)
            if dof is not None
            else (
                fit_student_t_dof(x @ as_weights(weights, x.shape[1]))
                if distribution is Distribution.STUDENT_T
                else 5.0
            )
        )
    w = as_weights(weights, model.n_assets)
    method = {
        Distribution.NORMAL: VaRMethod.MONTE_CARLO,
        Distribution.STUDENT_T: VaRMethod.MONTE_CARLO_STUDENT_T,
        Distribution.COPULA: VaRMethod.MONTE_CARLO_COPULA,
    }[distribution]
    details: dict = {"sampler": sampler.value, "seed": seed}
    if distribution is Distribution.STUDENT_T:
        details["dof"] = nu

    pnl = rows = None
    if h == 1 and distribution in (Distribution.NORMAL, Distribution.STUDENT_T):
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
        tail, band, band_p = conditional_asset_means(pnl, confidence, rows)
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
        tail, band, band_p = conditional_asset_means(pnl, confidence, lambda idx: sims[idx])
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
