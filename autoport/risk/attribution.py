"""Who carries the risk: marginal, component (Euler) and incremental VaR/ES, sectors, factors.

All figures are horizon returns like VaR itself (negative = loss). Component VaR of asset i is
``w_i * dVaR/dw_i``; VaR is homogeneous of degree one in the weights, so the components sum to
the portfolio VaR (Euler). For the normal model the derivative is closed form; for scenario
sets (history, Monte Carlo) ``dES/dw_i = E[r_i | r_p in the tail]`` exactly, and
``dVaR/dw_i = E[r_i | r_p = VaR]`` estimated on the scenarios nearest the quantile and rescaled
so the components sum to VaR exactly (Hallerbach 2003).

Incremental VaR of a position is the full revaluation ``VaR(w) - VaR(w without it)``: the
change in portfolio VaR the position causes (negative = it adds loss).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from autoport.errors import DataError
from autoport._blas import blas_single
from autoport.risk.var import VaRResult, as_returns, as_weights, check_confidence, check_horizon


@dataclass(frozen=True)
class Attribution:
    """Per-asset table (index = tickers) and the portfolio totals it sums to."""

    method: str
    var: float
    expected_shortfall: float
    table: pd.DataFrame  # weight, marginal_var, component_var, pct_var, marginal_es,
    # component_es, pct_es, incremental_var, incremental_es

    def records(self) -> list[dict]:
        return [{"asset": k, **v} for k, v in self.table.to_dict(orient="index").items()]


@blas_single
def normal_attribution(
    returns: pd.DataFrame | np.ndarray,
    weights: pd.Series | np.ndarray,
    *,
    confidence: float = 0.95,
    horizon: int = 1,
    tickers: list[str] | None = None,
) -> Attribution:
    """Closed-form Euler attribution under the multivariate normal model.

    marginal VaR_i = h mu_i + z sqrt(h) (Sigma w)_i / sigma_p;
    marginal ES_i  = h mu_i - sqrt(h) phi(z)/a (Sigma w)_i / sigma_p.
    """
    x = as_returns(returns, min_obs=3)
    w = as_weights(weights, x.shape[1])
    a = 1.0 - check_confidence(confidence)
    h = check_horizon(horizon)
    mu = x.mean(0)
    cov = np.atleast_2d(np.cov(x, rowvar=False))
    return normal_attribution_from_moments(mu, cov, w, a, h, _names(returns, tickers))


def normal_attribution_from_moments(
    mu: np.ndarray, cov: np.ndarray, w: np.ndarray, a: float, h: int, names: list[str]
) -> Attribution:
    sig_w = cov @ w
    sigma = float(np.sqrt(w @ sig_w))
    if sigma <= 0:
        raise DataError("the portfolio has zero variance; attribution is undefined")
    z = stats.norm.ppf(a)
    k_es = -stats.norm.pdf(z) / a
    beta = sig_w / sigma
    mvar = h * mu + z * np.sqrt(h) * beta
    mes = h * mu + k_es * np.sqrt(h) * beta
    var = float(h * mu @ w + z * np.sqrt(h) * sigma)
    es = float(h * mu @ w + k_es * np.sqrt(h) * sigma)

    def var_es(wv: np.ndarray) -> tuple[float, float]:
        s = float(np.sqrt(max(wv @ cov @ wv, 0.0)))
        m = float(h * mu @ wv)
        return m + z * np.sqrt(h) * s, m + k_es * np.sqrt(h) * s

    return _table("parametric", names, w, mvar, mes, var, es, var_es)


def scenario_attribution(
    result: VaRResult,
    weights: pd.Series | np.ndarray,
    *,
    tickers: list[str],
    revalue: Callable[[np.ndarray], tuple[float, float]] | None = None,
) -> Attribution:
    """Euler attribution from a scenario-based :class:`VaRResult` (history or Monte Carlo).

    ``revalue(w)`` returns (VaR, ES) for other weights on the *same* scenarios; it gives the
    incremental figures (omitted when None).
    """
    if result.asset_tail_mean is None or result.asset_var_mean is None:
        raise DataError(f"{result.method} carries no scenario means; use normal_attribution")
    w = as_weights(weights, len(tickers))
    return _table(
        result.method,
        tickers,
        w,
        result.asset_var_mean,
        result.asset_tail_mean,
        result.var,
        result.expected_shortfall,
        revalue,
    )


def _table(method, names, w, mvar, mes, var, es, var_es) -> Attribution:
    cvar = w * mvar
    ces = w * mes
    table = pd.DataFrame(
        {
            "weight": w,
            "marginal_var": mvar,
            "component_var": cvar,
            "pct_var": cvar / var if var != 0 else np.nan,
            "marginal_es": mes,
            "component_es": ces,
            "pct_es": ces / es if es != 0 else np.nan,
        },
        index=pd.Index(names, name="asset"),
    )
    if var_es is not None:
        inc_var, inc_es = [], []
        for i in range(w.size):
            w_wo = w.copy()
            w_wo[i] = 0.0
            v, e = var_es(w_wo)
            inc_var.append(var - v)
            inc_es.append(es - e)
        table["incremental_var"] = inc_var
        table["incremental_es"] = inc_es
    return Attribution(method, float(var), float(es), table)


def _names(returns, tickers) -> list[str]:
    if tickers is not None:
        return list(tickers)
    if isinstance(returns, pd.DataFrame):
        return [str(c) for c in returns.columns]
    return [f"asset_{i}" for i in range(np.asarray(returns).shape[1])]


# --------------------------------------------------------------------------------------------
# sectors and principal components


def sector_decomposition(
    attribution: Attribution, sectors: Mapping[str, str], *, cov: np.ndarray | None = None
) -> pd.DataFrame:
    """Sum component VaR/ES by sector; with ``cov``, each sector's share of portfolio variance.

    Tickers missing from ``sectors`` are grouped as ``Unknown``.
    """
    t = attribution.table
    labels = [sectors.get(a, "Unknown") for a in t.index]
    out = t[["weight", "component_var", "component_es"]].groupby(labels).sum()
    out["pct_var"] = out["component_var"] / attribution.var
    out["pct_es"] = out["component_es"] / attribution.expected_shortfall
    if cov is not None:
        w = t["weight"].to_numpy()
        contrib = w * (cov @ w)
        out["variance_share"] = (
            pd.Series(contrib, index=t.index).groupby(labels).sum() / contrib.sum()
        )
    out.index.name = "sector"
    return out.sort_values("component_var")


@dataclass(frozen=True)
class FactorDecomposition:
    """Principal components of the asset covariance and the portfolio's variance along them."""

    explained_variance_ratio: np.ndarray  # share of total asset variance, per component
    portfolio_variance_share: np.ndarray  # share of the portfolio's variance, per component
    exposures: np.ndarray  # portfolio loading on each component
    loadings: pd.DataFrame  # assets x components
    residual_share: float  # portfolio variance outside the kept components

    def table(self) -> pd.DataFrame:
        k = self.exposures.size
        return pd.DataFrame(
            {
                "explained_variance_ratio": self.explained_variance_ratio,
                "portfolio_variance_share": self.portfolio_variance_share,
                "exposure": self.exposures,
            },
            index=pd.Index([f"PC{i + 1}" for i in range(k)], name="factor"),
        )


@blas_single
def pca_decomposition(
    returns: pd.DataFrame | np.ndarray,
    weights: pd.Series | np.ndarray,
    *,
    n_factors: int = 5,
    tickers: list[str] | None = None,
) -> FactorDecomposition:
    """Portfolio variance w' Sigma w = sum_k lambda_k (e_k' w)^2 over eigenpairs of Sigma.

    The shares over all components sum to one; the first ``n_factors`` are reported and the
    rest is ``residual_share``.
    """
    x = as_returns(returns, min_obs=3)
    w = as_weights(weights, x.shape[1])
    cov = np.atleast_2d(np.cov(x, rowvar=False))
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1]
    vals, vecs = np.clip(vals[order], 0.0, None), vecs[:, order]
    # sign convention: each component loads positively on average
    signs = np.where(vecs.sum(0) < 0, -1.0, 1.0)
    vecs = vecs * signs
    expo = vecs.T @ w
    contrib = vals * expo**2
    total = contrib.sum()
    k = min(n_factors, vals.size)
    names = _names(returns, tickers)
    return FactorDecomposition(
        explained_variance_ratio=vals[:k] / vals.sum(),
        portfolio_variance_share=contrib[:k] / total,
        exposures=expo[:k],
        loadings=pd.DataFrame(vecs[:, :k], index=names, columns=[f"PC{i + 1}" for i in range(k)]),
        residual_share=float(contrib[k:].sum() / total),
    )


# --------------------------------------------------------------------------------------------
# risk budgets


def risk_budget_report(
    attribution: Attribution,
    *,
    budgets: Mapping[str, float] | None = None,
    sectors: Mapping[str, str] | None = None,
    tolerance: float = 0.05,
) -> dict[str, pd.DataFrame]:
    """Each asset's (and sector's) share of VaR against its budget.

    ``budgets`` maps tickers to target shares of total VaR (normalised to sum to one); the
    default is equal risk over the held assets (1/N). ``over`` flags shares above budget by
    more than ``tolerance``.
    """
    t = attribution.table
    if budgets is None:
        held = (t["weight"] != 0).astype(float)
        b = held / held.sum()
    else:
        unknown = sorted(set(budgets) - set(t.index))
        if unknown:
            raise DataError(f"risk budgets name unknown asset(s) {', '.join(unknown)}")
        b = pd.Series(budgets, dtype=float).reindex(t.index).fillna(0.0)
        if b.sum() <= 0:
            raise DataError("risk budgets must be positive and not all zero")
        b = b / b.sum()
    assets = pd.DataFrame({"weight": t["weight"], "risk_share": t["pct_var"], "budget": b})
    assets["excess"] = assets["risk_share"] - assets["budget"]
    assets["over"] = assets["excess"] > tolerance
    out = {"assets": assets.sort_values("excess", ascending=False)}
    if sectors is not None:
        labels = [sectors.get(a, "Unknown") for a in assets.index]
        sec = assets[["weight", "risk_share", "budget"]].groupby(labels).sum()
        sec["excess"] = sec["risk_share"] - sec["budget"]
        sec["over"] = sec["excess"] > tolerance
        sec.index.name = "sector"
        out["sectors"] = sec.sort_values("excess", ascending=False)
    return out
