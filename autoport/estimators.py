"""Expected returns and covariance matrices, annualised with 252 sessions a year.

Every estimator takes a price panel (dates × tickers, adjusted closes) and returns a
``pd.Series`` (expected returns) or a symmetric positive semi-definite ``pd.DataFrame``
(covariance), both in annual units and indexed by ticker. PyPortfolioOpt and scikit-learn do
the work where they already do it; what is written here is what neither offers (James-Stein
shrinkage toward the grand mean, the PCA factor model, the PSD check that refuses or repairs
with a message instead of a warning).

Pure functions: no printing, no files.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pypfopt import black_litterman as _bl
from pypfopt import expected_returns as _er
from pypfopt import risk_models as _rm
from sklearn.covariance import OAS, LedoitWolf

from autoport._blas import single_threaded_blas
from autoport.errors import ConfigError, DataError

TRADING_DAYS = 252
RETURN_MODELS = ("mean", "arithmetic", "ewma", "capm", "shrunk", "black_litterman")
RISK_MODELS = ("sample", "ledoit_wolf", "oas", "ewma", "factor")


def _returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Daily simple returns; rows where every asset is empty are dropped (late listings)."""
    if not isinstance(prices, pd.DataFrame) or prices.shape[1] < 1:
        raise DataError("estimators need a price DataFrame with one column per ticker")
    rets = prices.pct_change(fill_method=None).dropna(how="all").iloc[:]
    if len(rets) < 2:
        raise DataError(
            f"{len(rets)} return observation(s) from {len(prices)} price rows; "
            "estimators need at least 3 sessions of prices"
        )
    return rets


def _complete_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Returns on the sessions where every asset has one (for matrix estimators)."""
    rets = _returns(prices).dropna(how="any")
    if len(rets) < 2:
        raise DataError(
            "fewer than 2 sessions where every asset has a return; the assets barely overlap: "
            "drop late-listed tickers or pass a later --start"
        )
    return rets


# --------------------------------------------------------------------------- expected returns


def mean_return(prices: pd.DataFrame, *, compounding: bool = True) -> pd.Series:
    """Historical mean: the CAGR of each column (``compounding``) or 252 × the mean daily return.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions by N tickers.
    compounding
        True: the compound annual growth rate; False: 252 × the mean daily simple return.
    """
    _returns(prices)
    return _er.mean_historical_return(prices, compounding=compounding, frequency=TRADING_DAYS)


def ewma_return(
    prices: pd.DataFrame, *, span: int = 500, compounding: bool = True
) -> pd.Series:
    """Exponentially weighted mean of daily returns (``span`` sessions), annualised.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions by N tickers.
    span
        EWMA span in sessions.
    compounding
        Compound the weighted mean daily return over 252 sessions (True) or multiply it by 252.
    """
    _returns(prices)
    if span < 1:
        raise ConfigError(f"ewma span must be a positive number of sessions, got {span}")
    return _er.ema_historical_return(
        prices, span=span, compounding=compounding, frequency=TRADING_DAYS
    )


def capm_return(
    prices: pd.DataFrame,
    *,
    market_prices: pd.Series | pd.DataFrame | None = None,
    risk_free_rate: float = 0.0,
) -> pd.Series:
    """CAPM-implied returns rf + β (E[R_m] − rf); the market is equal-weighted if not given.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions by N tickers.
    market_prices
        Market levels on the same sessions, shape (T,) or (T, 1); None: the equal-weight index.
    risk_free_rate
        Annual risk-free rate (0.02 is 2% a year).
    """
    _returns(prices)
    if market_prices is not None and isinstance(market_prices, pd.Series):
        market_prices = market_prices.to_frame("mkt")
    return _er.capm_return(
        prices,
        market_prices=market_prices,
        risk_free_rate=risk_free_rate,
        frequency=TRADING_DAYS,
    )


def james_stein_return(prices: pd.DataFrame) -> pd.Series:
    """Arithmetic mean returns shrunk toward their grand mean (positive-part James-Stein).

    With daily sample means ``m``, grand mean ``g`` and the sample covariance ``S`` of the mean
    (``S_daily / T``), the intensity is ``δ = min(1, (N − 3) / ((m − g)ᵀ (S/T)⁻¹ (m − g)))`` and
    the estimate ``g + (1 − δ)(m − g)``, annualised × 252. N − 3 because the target itself is
    estimated (Efron & Morris 1973). Needs N ≥ 4 assets.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions by N tickers. N ≥ 4.
    """
    rets = _complete_returns(prices)
    t, n = rets.shape
    if n < 4:
        raise ConfigError(
            f"James-Stein shrinkage needs at least 4 assets, got {n}; use --returns-model mean"
        )
    m = rets.mean().to_numpy()
    grand = float(m.mean())
    dev = m - grand
    cov_mean = np.cov(rets.to_numpy(), rowvar=False) / t
    quad = float(dev @ np.linalg.pinv(cov_mean) @ dev)
    delta = 1.0 if quad <= 0 else min(1.0, (n - 3) / quad)
    shrunk = grand + (1.0 - delta) * dev
    return pd.Series(shrunk * TRADING_DAYS, index=prices.columns, name="james_stein")


@dataclass(frozen=True)
class View:
    """One Black-Litterman view.

    Absolute: ``long="AAPL", value=0.10`` (AAPL returns 10 % a year). Relative: ``long="AAPL",
    short="MSFT", value=0.02`` (AAPL beats MSFT by 2 %). ``confidence`` in (0, 1] is Idzorek's
    percentage confidence.
    """

    long: str
    value: float
    short: str | None = None
    confidence: float = 0.5


def black_litterman_return(
    prices: pd.DataFrame,
    views: Sequence[View],
    *,
    cov: pd.DataFrame | None = None,
    market_caps: Mapping[str, float] | None = None,
    risk_aversion: float = 2.5,
    risk_free_rate: float = 0.0,
    tau: float = 0.05,
) -> pd.Series:
    """Black-Litterman posterior mean from views with confidences (Idzorek's Ω).

    The prior is market-implied: ``δ Σ w_mkt + rf`` with ``w_mkt`` from ``market_caps`` or equal
    weights when no caps are given.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions by N tickers.
    views
        The views (:class:`View`): annual returns, at least one.
    cov
        Annualised covariance, shape (N, N); None: :func:`ledoit_wolf_cov` of ``prices``.
    market_caps
        Market capitalisation per ticker (any unit); None: equal weights as the market.
    risk_aversion
        δ of the market-implied prior ``δ Σ w_mkt + rf``.
    risk_free_rate
        Annual risk-free rate.
    tau
        Scale of the prior's uncertainty (τ Σ).
    """
    tickers = list(prices.columns)
    cov = cov if cov is not None else ledoit_wolf_cov(prices)
    if not views:
        raise ConfigError("Black-Litterman needs at least one view; add views or use another model")
    if market_caps is not None:
        missing = [t for t in tickers if t not in market_caps]
        if missing:
            raise ConfigError(f"market caps missing for {', '.join(missing)}")
        caps = pd.Series({t: float(market_caps[t]) for t in tickers})
    else:
        caps = pd.Series(1.0, index=tickers)
    pi = _bl.market_implied_prior_returns(caps, risk_aversion, cov, risk_free_rate)
    p = np.zeros((len(views), len(tickers)))
    q = np.zeros(len(views))
    conf = np.zeros(len(views))
    for k, view in enumerate(views):
        for name in (view.long, view.short):
            if name is not None and name not in tickers:
                raise ConfigError(f"view {k + 1} names unknown ticker {name!r}")
        if not 0 < view.confidence <= 1:
            raise ConfigError(f"view {k + 1} confidence {view.confidence} is outside (0, 1]")
        p[k, tickers.index(view.long)] = 1.0
        if view.short is not None:
            p[k, tickers.index(view.short)] = -1.0
        q[k] = view.value
        conf[k] = view.confidence
    model = _bl.BlackLittermanModel(
        cov, pi=pi, P=p, Q=q, omega="idzorek", view_confidences=conf, tau=tau,
        risk_aversion=risk_aversion,
    )
    return model.bl_returns().rename("black_litterman")


def expected_returns(
    prices: pd.DataFrame,
    model: str = "mean",
    *,
    risk_free_rate: float = 0.0,
    span: int = 500,
    market_prices: pd.Series | None = None,
    views: Sequence[View] = (),
    market_caps: Mapping[str, float] | None = None,
    cov: pd.DataFrame | None = None,
) -> pd.Series:
    """Dispatch on ``model`` (one of :data:`RETURN_MODELS`).

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions by N tickers.
    model
        One of :data:`RETURN_MODELS`: ``mean`` (CAGR), ``arithmetic`` (252 × mean daily return),
        ``ewma``, ``capm``, ``shrunk`` (James-Stein), ``black_litterman``.
    risk_free_rate
        Annual risk-free rate (``capm``, ``black_litterman``).
    span
        EWMA span in sessions (``ewma``).
    market_prices
        Market levels, shape (T,) (``capm``).
    views, market_caps, cov
        Views, caps and covariance (``black_litterman``, see :func:`black_litterman_return`).
    """
    if model == "mean":  # CAGR, PyPortfolioOpt's default
        return mean_return(prices)
    if model == "arithmetic":  # 252 x mean daily simple return, skfolio's and Riskfolio's
        return mean_return(prices, compounding=False)
    if model == "ewma":
        return ewma_return(prices, span=span)
    if model == "capm":
        return capm_return(prices, market_prices=market_prices, risk_free_rate=risk_free_rate)
    if model == "shrunk":
        return james_stein_return(prices)
    if model == "black_litterman":
        return black_litterman_return(
            prices, views, cov=cov, market_caps=market_caps, risk_free_rate=risk_free_rate
        )
    raise ConfigError(f"unknown returns model {model!r}; choose one of {', '.join(RETURN_MODELS)}")


# --------------------------------------------------------------------------------- covariance


# the one limiter lives in autoport._blas; this name stays for optimize/frontier.py's import
single_blas_thread = single_threaded_blas


def ensure_psd(
    matrix: pd.DataFrame | np.ndarray, *, repair: bool = True, tol: float = 1e-10
) -> pd.DataFrame | np.ndarray:
    """Return a symmetric PSD matrix, or raise ``DataError`` saying why it is not one.

    Asymmetry beyond rounding is refused (it is a bug upstream, not noise). Negative eigenvalues
    below ``-tol × max|λ|`` are clipped to zero when ``repair`` (spectral projection, the nearest
    PSD matrix in Frobenius norm) and refused otherwise.

    Parameters
    ----------
    matrix
        A covariance matrix, shape (N, N).
    repair
        Clip negative eigenvalues to zero instead of refusing the matrix.
    tol
        Eigenvalues above ``-tol × max|λ|`` count as zero.
    """
    values = np.asarray(matrix, dtype=float)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise DataError(f"a covariance matrix must be square, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise DataError(
            "covariance matrix holds NaN or infinite entries; check the prices for gaps "
            "or constant columns"
        )
    scale = max(float(np.abs(values).max()), 1e-300)
    if np.abs(values - values.T).max() > 1e-8 * scale:
        raise DataError(
            "covariance matrix is not symmetric (largest |Σ − Σᵀ| = "
            f"{np.abs(values - values.T).max():.3g}); pass a symmetric matrix"
        )
    values = (values + values.T) / 2
    try:  # positive definite: Cholesky proves it several times faster than an eigensolve
        with single_threaded_blas(len(values)):
            np.linalg.cholesky(values)
    except np.linalg.LinAlgError:
        pass
    else:
        if isinstance(matrix, pd.DataFrame):
            return pd.DataFrame(values, index=matrix.index, columns=matrix.columns)
        return values
    eigvals, eigvecs = np.linalg.eigh(values)
    if eigvals.min() < -tol * max(scale, float(np.abs(eigvals).max())):
        if not repair:
            raise DataError(
                f"covariance matrix is not positive semi-definite (smallest eigenvalue "
                f"{eigvals.min():.3g}); use a shrinkage risk model (ledoit_wolf, oas) or allow "
                "repair"
            )
        values = (eigvecs * np.clip(eigvals, 0.0, None)) @ eigvecs.T
        values = (values + values.T) / 2
    if isinstance(matrix, pd.DataFrame):
        return pd.DataFrame(values, index=matrix.index, columns=matrix.columns)
    return values


def _frame(values: np.ndarray, tickers: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(ensure_psd(values), index=tickers, columns=tickers)


def window_estimates(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Annualised CAGR means and Ledoit-Wolf Σ of a complete (sessions × assets) price array.

    The numbers of :func:`mean_return` and :func:`ledoit_wolf_cov` (PyPortfolioOpt's CAGR,
    scikit-learn's Ledoit-Wolf on simple returns, symmetrised) to rounding, without the
    DataFrame round trips: what a step that re-estimates every session or month can afford
    (the decision menus, the MPT strategy).

    Parameters
    ----------
    window
        Adjusted closes without gaps, shape (T, N): T sessions (T >= 2) by N assets.
    """
    rets = window[1:] / window[:-1] - 1.0
    mu = np.prod(1.0 + rets, axis=0) ** (TRADING_DAYS / len(rets)) - 1.0
    cov = _ledoit_wolf(rets - rets.mean(axis=0)) * TRADING_DAYS
    return mu, (cov + cov.T) / 2.0


def _ledoit_wolf(x: np.ndarray) -> np.ndarray:
    """scikit-learn's ``LedoitWolf().fit`` on centred ``x`` (sessions × assets), its formulas
    step by step (one block: fewer than 1000 assets), without its input validation."""
    n, p = x.shape
    x2 = x * x
    trace = x2.sum(axis=0) / n
    mean_var = trace.sum() / p
    gram = x.T @ x
    beta_ = np.sum(x2.T @ x2)
    delta_ = np.sum(gram ** 2) / n ** 2
    beta = 1.0 / (p * n) * (beta_ / n - delta_)
    delta = (delta_ - 2.0 * mean_var * trace.sum() + p * mean_var ** 2) / p
    beta = min(beta, delta)
    shrinkage = 0 if beta == 0 else beta / delta
    emp_cov = gram / n
    shrunk = (1.0 - shrinkage) * emp_cov
    shrunk.flat[:: p + 1] += shrinkage * (np.trace(emp_cov) / p)
    return shrunk


def sample_cov(prices: pd.DataFrame) -> pd.DataFrame:
    """Sample covariance of daily simple returns × 252 (pairwise-complete, as PyPortfolioOpt).

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions by N tickers.
    """
    _returns(prices)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pypfopt warns on repair; ensure_psd decides instead
        raw = _er.returns_from_prices(prices).cov() * TRADING_DAYS
    return _frame(raw.to_numpy(), prices.columns)


def ledoit_wolf_cov(prices: pd.DataFrame) -> pd.DataFrame:
    """Ledoit-Wolf shrinkage toward a scaled identity (scikit-learn), × 252.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions by N tickers.
    """
    rets = _complete_returns(prices)
    fitted = LedoitWolf().fit(rets.to_numpy())
    return _frame(fitted.covariance_ * TRADING_DAYS, prices.columns)


def oas_cov(prices: pd.DataFrame) -> pd.DataFrame:
    """Oracle approximating shrinkage (Chen et al. 2010, scikit-learn), × 252.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions by N tickers.
    """
    rets = _complete_returns(prices)
    fitted = OAS().fit(rets.to_numpy())
    return _frame(fitted.covariance_ * TRADING_DAYS, prices.columns)


def ewma_cov(prices: pd.DataFrame, *, span: int = 180) -> pd.DataFrame:
    """Exponentially weighted covariance (``span`` sessions, PyPortfolioOpt), × 252.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions by N tickers.
    span
        EWMA span in sessions.
    """
    _returns(prices)
    if span < 1:
        raise ConfigError(f"ewma span must be a positive number of sessions, got {span}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = _rm.exp_cov(prices, span=span, frequency=TRADING_DAYS, fix_method="spectral")
    return _frame(raw.to_numpy(), prices.columns)


def factor_cov(prices: pd.DataFrame, *, n_factors: int = 3) -> pd.DataFrame:
    """Statistical factor model: the top ``n_factors`` principal components plus a diagonal.

    ``Σ = V_k Λ_k V_kᵀ + D`` with ``D`` the diagonal of what the factors leave unexplained, so
    the model keeps each asset's sample variance exactly; × 252.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions by N tickers.
    n_factors
        Principal components kept, 1 ≤ n_factors < N.
    """
    rets = _complete_returns(prices)
    n = rets.shape[1]
    if not 1 <= n_factors < n:
        raise ConfigError(f"factor model needs 1 ≤ n_factors < {n} assets, got {n_factors}")
    sample = np.cov(rets.to_numpy(), rowvar=False)
    eigvals, eigvecs = np.linalg.eigh(sample)
    top = np.argsort(eigvals)[::-1][:n_factors]
    common = (eigvecs[:, top] * eigvals[top]) @ eigvecs[:, top].T
    resid = np.clip(np.diag(sample) - np.diag(common), 0.0, None)
    return _frame((common + np.diag(resid)) * TRADING_DAYS, prices.columns)


def risk_matrix(
    prices: pd.DataFrame, model: str = "ledoit_wolf", *, span: int = 180, n_factors: int = 3
) -> pd.DataFrame:
    """Dispatch on ``model`` (one of :data:`RISK_MODELS`).

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions by N tickers.
    model
        One of :data:`RISK_MODELS`: ``sample``, ``ledoit_wolf``, ``oas``, ``ewma``, ``factor``.
    span
        EWMA span in sessions (``ewma``).
    n_factors
        Principal components kept (``factor``).
    """
    if model == "sample":
        return sample_cov(prices)
    if model == "ledoit_wolf":
        return ledoit_wolf_cov(prices)
    if model == "oas":
        return oas_cov(prices)
    if model == "ewma":
        return ewma_cov(prices, span=span)
    if model == "factor":
        return factor_cov(prices, n_factors=n_factors)
    raise ConfigError(f"unknown risk model {model!r}; choose one of {', '.join(RISK_MODELS)}")
