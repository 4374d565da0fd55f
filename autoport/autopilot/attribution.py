"""Performance attribution: by asset and sector, Brinson-Fachler against a benchmark, and
statistical factors; turnover, costs and taxes as separate drags.

Inputs are per-period (daily) simple returns and beginning-of-period weights (rows = dates).

Brinson-Fachler for one period, per sector ``j`` with portfolio / benchmark weights
``wp_j, wb_j`` and sector returns ``rp_j, rb_j`` (benchmark total ``Rb``):

- allocation ``(wp_j − wb_j)(rb_j − Rb)``; selection ``wb_j (rp_j − rb_j)``;
- interaction ``(wp_j − wb_j)(rp_j − rb_j)``.

The three sum exactly to ``Rp − Rb`` when both weight sets sum to one (cash, if any, is a
sector of its own with zero return). Over many periods the effects are linked with Carino's
log-ratio factors, so they sum exactly to the *compounded* active return
``Π(1+Rp) − Π(1+Rb)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoport.errors import DataError

CASH = "cash"


@dataclass(frozen=True)
class Brinson:
    """Effects per sector (columns allocation, selection, interaction) and their totals."""

    by_sector: pd.DataFrame
    allocation: float
    selection: float
    interaction: float
    portfolio_return: float
    benchmark_return: float

    @property
    def active_return(self) -> float:
        return self.portfolio_return - self.benchmark_return


def _with_cash(w: pd.DataFrame) -> pd.DataFrame:
    w = w.copy()
    w[CASH] = 1.0 - w.sum(axis=1)
    return w


def _group(frame: pd.DataFrame, groups: Mapping[str, str]) -> pd.DataFrame:
    labels = [groups.get(c, c) if c != CASH else CASH for c in frame.columns]
    return frame.T.groupby(labels).sum().T


def _sector_returns(w: pd.DataFrame, r: pd.DataFrame, groups, fallback: pd.DataFrame):
    """Weight-averaged sector returns; an unheld sector takes the benchmark's sector return."""
    contrib = _group(w * r, groups)
    weight = _group(w, groups)
    out = contrib / weight.where(weight.abs() > 1e-12)
    return out.fillna(fallback.reindex_like(out)).fillna(0.0)


def carino_factors(rp: pd.Series, rb: pd.Series) -> pd.Series:
    """Per-period linking factors ``k_t / K`` (Carino 1999)."""
    def k(a, b):
        a, b = np.asarray(a, float), np.asarray(b, float)
        diff = a - b
        same = np.abs(diff) < 1e-12
        with np.errstate(divide="ignore", invalid="ignore"):
            val = (np.log1p(a) - np.log1p(b)) / np.where(same, 1.0, diff)
        return np.where(same, 1.0 / (1.0 + a), val)

    total_p = float(np.prod(1.0 + rp) - 1.0)
    total_b = float(np.prod(1.0 + rb) - 1.0)
    big_k = float(k(total_p, total_b))
    return pd.Series(k(rp.to_numpy(), rb.to_numpy()) / big_k, index=rp.index)


def brinson_fachler(
    portfolio_weights: pd.DataFrame,
    benchmark_weights: pd.DataFrame | pd.Series,
    asset_returns: pd.DataFrame,
    groups: Mapping[str, str],
) -> Brinson:
    """Brinson-Fachler effects by sector, linked over the periods (rows) of ``asset_returns``.

    ``portfolio_weights`` are beginning-of-period weights per date (missing = 0; one minus the
    row sum is cash at zero return); ``benchmark_weights`` one row per date or one fixed Series.
    """
    r = asset_returns.astype(float)
    if r.isna().to_numpy().any():
        raise DataError("asset returns hold NaN; attribution needs complete returns")
    wp = portfolio_weights.reindex(index=r.index, columns=r.columns).fillna(0.0)
    if isinstance(benchmark_weights, pd.Series):
        wb = pd.DataFrame([benchmark_weights.reindex(r.columns).fillna(0.0).to_numpy()] * len(r),
                          index=r.index, columns=r.columns)
    else:
        wb = benchmark_weights.reindex(index=r.index, columns=r.columns).fillna(0.0)
    wp, wb = _with_cash(wp), _with_cash(wb)
    r = r.assign(**{CASH: 0.0})
    rb_s = _sector_returns(wb, r, groups, pd.DataFrame())
    rp_s = _sector_returns(wp, r, groups, rb_s)
    wp_s, wb_s = _group(wp, groups), _group(wb, groups)
    cols = sorted(set(wp_s.columns) | set(wb_s.columns))
    wp_s, wb_s, rp_s, rb_s = (
        f.reindex(columns=cols, fill_value=0.0) for f in (wp_s, wb_s, rp_s, rb_s)
    )
    rp_tot = (wp * r).sum(axis=1)
    rb_tot = (wb * r).sum(axis=1)
    alloc = (wp_s - wb_s).mul(rb_s.sub(rb_tot, axis=0))
    select = wb_s * (rp_s - rb_s)
    inter = (wp_s - wb_s) * (rp_s - rb_s)
    factors = carino_factors(rp_tot, rb_tot) if len(r) > 1 else pd.Series(1.0, index=r.index)
    table = pd.DataFrame({
        "allocation": alloc.mul(factors, axis=0).sum(),
        "selection": select.mul(factors, axis=0).sum(),
        "interaction": inter.mul(factors, axis=0).sum(),
    })
    return Brinson(
        table, float(table["allocation"].sum()), float(table["selection"].sum()),
        float(table["interaction"].sum()), float(np.prod(1.0 + rp_tot) - 1.0),
        float(np.prod(1.0 + rb_tot) - 1.0),
    )


def contributions(
    weights: pd.DataFrame, asset_returns: pd.DataFrame, groups: Mapping[str, str] | None = None,
) -> pd.Series:
    """Carino-linked return contribution of each asset (or group): sums to the compounded
    portfolio return."""
    r = asset_returns.astype(float)
    w = weights.reindex(index=r.index, columns=r.columns).fillna(0.0)
    per = w * r
    rp = per.sum(axis=1)
    factors = carino_factors(rp, pd.Series(0.0, index=rp.index)) if len(r) > 1 else 1.0
    linked = per.mul(factors, axis=0).sum()
    if groups is not None:
        linked = linked.groupby([groups.get(c, c) for c in linked.index]).sum()
    return linked.rename("contribution")


def factor_attribution(
    portfolio_returns: pd.Series, asset_returns: pd.DataFrame, n_factors: int = 3,
) -> pd.Series:
    """Statistical-factor attribution: regress daily portfolio returns on the first
    ``n_factors`` principal components of the asset returns; each factor's share is its beta
    times its summed return, the rest is residual (alpha plus noise). Sums to the summed
    (arithmetic) portfolio return."""
    r = asset_returns.reindex(portfolio_returns.index).astype(float)
    x = r - r.mean()
    _, _, vt = np.linalg.svd(x.to_numpy(), full_matrices=False)
    f = r.to_numpy() @ vt[:n_factors].T
    y = portfolio_returns.to_numpy(float)
    design = np.column_stack([np.ones(len(y)), f])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    out = {f"factor_{k + 1}": float(beta[k + 1] * f[:, k].sum()) for k in range(n_factors)}
    out["residual"] = float(y.sum() - sum(out.values()))
    return pd.Series(out, name="contribution")


def drags(
    *, traded_value: float, costs: float, taxes: float, average_value: float, years: float,
) -> dict[str, float]:
    """Turnover (annual, traded value over average value), costs and taxes as annual drags."""
    if average_value <= 0 or years <= 0:
        raise DataError("drags need a positive average value and a positive number of years")
    return {
        "turnover_annual": traded_value / average_value / years,
        "cost_drag_annual": costs / average_value / years,
        "tax_drag_annual": taxes / average_value / years,
    }


def weights_from_positions(positions: pd.DataFrame) -> pd.DataFrame:
    """Beginning-of-day weights from end-of-day dollar positions (pyfolio shape, with
    ``cash``): the row for day ``t`` holds the weights at the close of ``t - 1``."""
    total = positions.sum(axis=1)
    w = positions.drop(columns=["cash"], errors="ignore").div(total, axis=0)
    return w.shift(1).iloc[1:]


def summary(
    positions: pd.DataFrame,
    prices: pd.DataFrame,
    groups: Mapping[str, str],
    *,
    benchmark_weights: pd.Series | None = None,
    traded_value: float = 0.0,
    costs: float = 0.0,
    taxes: float = 0.0,
    n_factors: int = 3,
) -> dict:
    """Everything the attribution section reports, from a run's positions and the prices.

    Benchmark: 1/N over the priced assets unless ``benchmark_weights`` are given. The
    engine's costs sit inside the positions (they lower cash), so the Brinson active return
    here is after costs; ``drags`` shows costs and taxes separately.
    """
    w = weights_from_positions(positions)
    r = prices.pct_change().reindex(w.index)[w.columns.intersection(prices.columns)]
    w = w[r.columns]
    bench = benchmark_weights if benchmark_weights is not None else pd.Series(
        1.0 / r.shape[1], index=r.columns)
    b = brinson_fachler(w, bench, r, groups)
    rp = (w * r).sum(axis=1)
    years = len(r) / 252.0
    avg = float(positions.sum(axis=1).mean())
    return {
        "by_asset": contributions(w, r).sort_values(ascending=False),
        "by_sector": contributions(w, r, groups).sort_values(ascending=False),
        "brinson": b,
        "factors": factor_attribution(rp, r, n_factors),
        "drags": drags(traded_value=traded_value, costs=costs, taxes=taxes,
                       average_value=avg, years=years),
    }
