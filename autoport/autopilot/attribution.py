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

Reconciliation with the engine (:func:`reconcile`). With beginning-of-day weights ``w_t``
(yesterday's closing positions over yesterday's value ``V_(t-1)``), today's fills at the close
with commission and slippage, the engine's daily return is exactly

    r_t = g_t − c_t − e_t,   g_t = Σ_i w_(i,t) r_(i,t) (gross: weights × prices),
                             c_t = (commission_t + slippage_t) / V_(t-1) (costs),

with a residual ``e_t`` left by what the two price sources disagree on (the engine marks at
its own 0.001 price precision). Linked with Carino's factors of the *engine's* returns
(``k_t / K``, ``k_t = ln(1+r_t)/r_t``, ``K = ln(1+R)/R``) the three pieces sum exactly to the
engine's total return ``R``; the per-asset contributions sum to the linked gross piece. Taxes
are not taken by the engine: the after-tax return is ``R`` minus the tax drag.
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


@dataclass(frozen=True)
class Reconciliation:
    """Daily pieces (columns gross, commission, slippage, residual, engine; rows = sessions),
    the Carino factors of the engine's returns, and the beginning-of-day weights."""

    daily: pd.DataFrame
    factors: pd.Series
    weights: pd.DataFrame
    asset_returns: pd.DataFrame

    def linked(self) -> dict[str, float]:
        """Each piece linked to the engine's total: gross − costs − residual = engine."""
        k = self.factors
        d = self.daily
        gross = float((d["gross"] * k).sum())
        comm = float((d["commission"] * k).sum())
        slip = float((d["slippage"] * k).sum())
        resid = float((d["residual"] * k).sum())
        engine = float(np.prod(1.0 + d["engine"]) - 1.0)
        return {
            "engine_return": engine,
            "gross_return": gross,
            "cost_drag": comm + slip,
            "commission_drag": comm,
            "slippage_drag": slip,
            "residual": resid,
            "check_gross_minus_drags_minus_engine": gross - comm - slip - resid - engine,
            "gross_return_compounded": float(np.prod(1.0 + d["gross"]) - 1.0),
            "gross_less_costs_compounded": float(
                np.prod(1.0 + d["gross"] - d["commission"] - d["slippage"]) - 1.0),
        }


def engine_factors(r: pd.Series) -> pd.Series:
    """Carino factors ``k_t / K`` of one return series: ``Σ_t (k_t/K) x_t`` over pieces
    ``x_t`` that sum to ``r_t`` each day equals the compounded ``Π(1+r_t) − 1``."""
    return carino_factors(r, pd.Series(0.0, index=r.index))


def reconcile(
    positions: pd.DataFrame,
    prices: pd.DataFrame,
    *,
    engine_returns: pd.Series | None = None,
    transactions: pd.DataFrame | None = None,
    commission_bps: float = 0.0,
) -> Reconciliation:
    """Split the engine's daily returns into gross (weights × prices), costs and a residual.

    ``positions``: end-of-day dollar positions with ``cash`` (pyfolio shape);
    ``transactions``: fills (``symbol``, ``amount``, ``price``) indexed by session;
    commission is ``commission_bps`` of each fill's value, slippage ``amount × (fill −
    close)`` against ``prices``' close that session. Without ``engine_returns`` the book's own
    value changes stand in for them (from the second row on).
    """
    value = positions.sum(axis=1)
    assets = positions.drop(columns=["cash"], errors="ignore")
    if engine_returns is None:
        r = value.pct_change().iloc[1:]
        prev = value.shift(1).iloc[1:]
    else:
        r = engine_returns.reindex(value.index).astype(float)
        if r.isna().any():
            raise DataError("engine returns do not cover every positions date")
        prev = value.shift(1)
        prev.iloc[0] = value.iloc[0] / (1.0 + r.iloc[0])  # the capital before day one
    w = assets.shift(1).reindex(r.index).fillna(0.0).div(prev, axis=0)
    cols = [c for c in w.columns if c in prices.columns]
    asset_r = prices[cols].pct_change().reindex(r.index)
    w = w[cols]
    if (asset_r.isna() & (w != 0.0)).to_numpy().any():
        raise DataError("prices do not cover every session of the positions")
    asset_r = asset_r.fillna(0.0)  # only where nothing is held (the first, all-cash day)
    gross = (w * asset_r).sum(axis=1)
    comm = pd.Series(0.0, index=r.index)
    slip = pd.Series(0.0, index=r.index)
    if transactions is not None and len(transactions):
        days = pd.DatetimeIndex(transactions.index)
        amount = transactions["amount"].astype(float).to_numpy()
        fill = transactions["price"].astype(float).to_numpy()
        closes = prices.stack().reindex(list(zip(days, transactions["symbol"], strict=True)))
        c = pd.Series(np.abs(amount) * fill * commission_bps / 1e4, index=days)
        sl = pd.Series(amount * (fill - closes.to_numpy(float)), index=days)
        comm = comm.add(c.groupby(level=0).sum(), fill_value=0.0).reindex(r.index)
        slip = slip.add(sl.groupby(level=0).sum(), fill_value=0.0).reindex(r.index)
        comm, slip = comm / prev, slip / prev
    daily = pd.DataFrame({"gross": gross, "commission": comm, "slippage": slip})
    daily["residual"] = daily["gross"] - comm - slip - r
    daily["engine"] = r
    return Reconciliation(daily, engine_factors(r), w, asset_r)


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
    engine_returns: pd.Series | None = None,
    transactions: pd.DataFrame | None = None,
    commission_bps: float = 0.0,
    traded_value: float = 0.0,
    costs: float | None = None,
    taxes: float = 0.0,
    after_tax_return: float | None = None,
    n_factors: int = 3,
) -> dict:
    """Everything the attribution section reports, from a run's positions and the prices.

    ``reconciliation``: the engine's total return (``engine_returns``; without them the
    book's value changes) as gross (weights × prices) minus costs minus a residual, linked so
    they sum exactly; ``by_asset``/``by_sector`` sum to the gross piece. Brinson and the
    factors are on the gross daily returns (before costs) against 1/N (or
    ``benchmark_weights``), rebalanced daily and cost-free. ``drags``: annual turnover, costs
    and taxes; ``taxes``: pre-tax (the engine) − tax drag = after-tax.
    """
    rec = reconcile(positions, prices, engine_returns=engine_returns,
                    transactions=transactions, commission_bps=commission_bps)
    w, r, k = rec.weights, rec.asset_returns, rec.factors
    bench = benchmark_weights if benchmark_weights is not None else pd.Series(
        1.0 / r.shape[1], index=r.columns)
    b = brinson_fachler(w, bench, r, groups)
    per = (w * r).mul(k, axis=0).sum()
    by_sector = per.groupby([groups.get(c, c) for c in per.index]).sum()
    years = len(r) / 252.0
    avg = float(positions.sum(axis=1).mean())
    linked = rec.linked()
    cost_total = costs if costs is not None else float(
        ((rec.daily["commission"] + rec.daily["slippage"])
         * positions.sum(axis=1).shift(1).reindex(r.index).bfill()).sum())
    out = {
        "reconciliation": {
            **linked,
            "how": "engine return = gross (beginning-of-day weights × close-to-close price "
                   "returns) − cost drag (commission + slippage of the fills over the previous "
                   "value) − residual (engine price precision), each daily series linked with "
                   "Carino factors of the engine's returns so the pieces sum exactly; "
                   "by_asset and by_sector sum to gross_return",
        },
        "by_asset": per.rename("contribution").sort_values(ascending=False),
        "by_sector": by_sector.rename("contribution").sort_values(ascending=False),
        "brinson": b,
        "brinson_basis": "gross daily returns (before costs) against the benchmark's, "
                         "Carino-linked; the reconciliation bridges gross to the engine",
        "factors": factor_attribution((w * r).sum(axis=1), r, n_factors),
        "drags": drags(traded_value=traded_value, costs=cost_total, taxes=taxes,
                       average_value=avg, years=years),
    }
    if after_tax_return is not None:
        out["taxes"] = {"pre_tax_return": linked["engine_return"],
                        "tax_drag": linked["engine_return"] - after_tax_return,
                        "after_tax_return": after_tax_return}
    return out
