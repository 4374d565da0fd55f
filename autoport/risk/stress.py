"""Stress scenarios: history replayed, hypothetical shocks, stressed volatility and correlation.

Scenario kinds (``configs/stress.yaml``; a user adds entries of the same shape):

- ``historical``: ``start``/``end`` dates; each asset's buy-and-hold return from the last close
  before ``start`` to the close on ``end`` is applied to today's weights. A window the prices
  do not cover is skipped with a note;
- ``market``: a market move ``market_shock`` passed to each asset through its beta to the
  benchmark (estimated on the trailing ``beta_window`` sessions);
- ``sector``: ``sector_shocks`` {sector: return} applied to that sector's assets; the other
  assets move with the market through their beta when ``market_shock`` is given (and stay
  flat otherwise). ``asset_shocks`` {ticker: return} override both;
- ``volatility``: volatilities multiplied by ``vol_multiplier``; the scenario's P&L is the
  parametric VaR under the stressed covariance;
- ``correlation``: all pairwise correlations set to ``correlation``; P&L = stressed VaR.

Every result holds the portfolio P&L (a return), per-position P&L, the worst positions and
whether the P&L breaches the portfolio's current VaR.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from autoport import configfile
from autoport.errors import DataError
from autoport.risk.var import normal_var_es

ScenarioKind = Literal["historical", "market", "sector", "volatility", "correlation"]


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    name: str
    kind: ScenarioKind
    description: str = ""
    start: date | None = None
    end: date | None = None
    market_shock: float | None = Field(default=None, gt=-1.0, lt=10.0)
    sector_shocks: dict[str, float] = Field(default_factory=dict)
    asset_shocks: dict[str, float] = Field(default_factory=dict)
    vol_multiplier: float | None = Field(default=None, gt=0.0)
    correlation: float | None = Field(default=None, ge=-1.0, le=1.0)

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Scenario:
        need = {
            "historical": ("start", "end"),
            "market": ("market_shock",),
            "volatility": ("vol_multiplier",),
            "correlation": ("correlation",),
        }.get(self.kind, ())
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.kind} scenario needs {', '.join(missing)}")
        if self.kind == "historical" and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        if self.kind == "sector" and not (self.sector_shocks or self.asset_shocks):
            raise ValueError("a sector scenario needs sector_shocks or asset_shocks")
        for k, v in {**self.sector_shocks, **self.asset_shocks}.items():
            if v <= -1.0:
                raise ValueError(f"shock {v} for {k} is -100% or worse; a return is > -1")
        return self


class ScenarioSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    beta_window: int = Field(default=252, ge=20)
    scenarios: list[Scenario]

    @model_validator(mode="after")
    def _unique(self) -> ScenarioSet:
        names = [s.name for s in self.scenarios]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate scenario names: {', '.join(dupes)}")
        return self


def bundled_scenarios_path():
    return resources.files("autoport.configs").joinpath("stress.yaml")


def parse_scenarios(text: str, source: str = "stress.yaml") -> ScenarioSet:
    """Validate YAML text into a :class:`ScenarioSet` or raise one ``ConfigError``."""
    raw = configfile.parse_mapping(text, source)
    try:
        return ScenarioSet.model_validate(raw)
    except ValidationError as exc:
        raise configfile.invalid(source, exc, label=_scenario_label(raw)) from None


def load_scenarios(path: str | Path | None = None) -> ScenarioSet:
    """The bundled scenario set, or the user's YAML file (config edge, reads the file).

    Parameters
    ----------
    path
        A YAML file of scenarios (the bundled ``stress.yaml``'s format); None: the bundled set.
    """
    if path is None:
        return parse_scenarios(bundled_scenarios_path().read_text(), "bundled stress.yaml")
    raw, source = configfile.read_mapping(path, kind="scenario file")
    try:
        return ScenarioSet.model_validate(raw)
    except ValidationError as exc:
        raise configfile.invalid(source, exc, label=_scenario_label(raw)) from None


def _scenario_label(raw: dict):
    """Name a problem inside ``scenarios[i]`` by the scenario's name rather than its index."""

    def label(loc: tuple) -> str | None:
        if len(loc) < 2 or loc[0] != "scenarios" or not isinstance(loc[1], int):
            return None
        try:
            name = raw["scenarios"][loc[1]].get("name", loc[1])
        except (KeyError, IndexError, AttributeError, TypeError):
            return None
        rest = ".".join(map(str, loc[2:]))
        return f"scenario {name!r}" + (f" field {rest}" if rest else "")

    return label


# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioResult:
    scenario: str
    kind: str
    pnl: float | None  # portfolio return under the scenario; None when skipped
    position_pnl: pd.Series | None = field(default=None, repr=False)  # weight x asset return
    asset_returns: pd.Series | None = field(default=None, repr=False)
    var_breach: bool | None = None
    pnl_to_var: float | None = None
    note: str = ""
    window: tuple[str, str] | None = None
    # the VaR the breach flag compares with: a replayed window of k sessions is compared with
    # the VaR scaled to k sessions (square root of time), not with a one-day VaR
    var_sessions: int | None = None
    var_compared: float | None = None

    @property
    def skipped(self) -> bool:
        return self.pnl is None

    def worst_positions(self, n: int = 3) -> list[dict]:
        if self.position_pnl is None:
            return []
        worst = self.position_pnl.sort_values().head(n)
        return [
            {"asset": k, "pnl": float(v), "asset_return": float(self.asset_returns[k])}
            for k, v in worst.items()
            if v < 0
        ]

    def as_dict(self) -> dict:
        out = {
            "scenario": self.scenario,
            "kind": self.kind,
            "pnl": self.pnl,
            "var_breach": self.var_breach,
            "pnl_to_var": self.pnl_to_var,
            "var_sessions": self.var_sessions,
            "var_compared": self.var_compared,
            "worst_positions": self.worst_positions(),
            "skipped": self.skipped,
        }
        if self.window:
            out["window"] = {"start": self.window[0], "end": self.window[1]}
        if self.note:
            out["note"] = self.note
        return out


def betas(returns: pd.DataFrame, market: pd.Series) -> pd.Series:
    """OLS beta of each asset's daily return on the market's, on the rows given."""
    m = market.to_numpy()
    mc = m - m.mean()
    x = returns.to_numpy()
    b = (x - x.mean(0)).T @ mc / (mc @ mc)
    return pd.Series(b, index=returns.columns, name="beta")


def run_scenarios(
    scenario_set: ScenarioSet,
    prices: pd.DataFrame,
    weights: pd.Series,
    *,
    sectors: Mapping[str, str],
    benchmark: pd.Series | None = None,
    var: float,
    confidence: float = 0.95,
    horizon: int = 1,
    estimation_window: int = 1000,
) -> list[ScenarioResult]:
    """Apply every scenario to ``weights`` (a return P&L each); sorted worst first.

    ``prices`` is the whole panel (historical windows are looked up in it); betas, volatilities
    and correlations come from its last ``estimation_window`` sessions (``beta_window`` for
    betas). ``benchmark`` defaults to the equal-weighted average of the panel's assets.
    ``var`` is the portfolio's current VaR at ``horizon`` (a negative return) for the breach
    flag; the volatility and correlation scenarios report the stressed VaR at that horizon.
    A historical window of k sessions is compared with that VaR scaled to k sessions by the
    square root of time (``var * sqrt(k / horizon)``): a three-month crash against a one-day
    VaR would breach it by construction.
    """
    missing = [t for t in weights.index if t not in prices.columns]
    if missing:
        raise DataError(f"weights name ticker(s) not in the prices: {', '.join(missing)}")
    prices = prices[list(weights.index)]
    rets = prices.pct_change().iloc[1:]
    if benchmark is not None:
        mkt = benchmark.reindex(prices.index).ffill().pct_change().iloc[1:]
        if mkt.iloc[-scenario_set.beta_window :].isna().any():
            mkt = rets.mean(1)
    else:
        mkt = rets.mean(1)
    recent = rets.iloc[-scenario_set.beta_window :]
    beta = betas(recent, mkt.loc[recent.index])
    est = rets.iloc[-estimation_window:].to_numpy()
    mu, cov = est.mean(0), np.cov(est, rowvar=False)
    w = weights.to_numpy(dtype=float)
    out = []
    for sc in scenario_set.scenarios:
        res = _one(
            sc, prices, w, weights.index, beta, sectors, horizon * mu, horizon * cov, confidence
        )
        if res.pnl is not None:
            sessions = horizon
            if res.window is not None:
                sessions = len(prices.loc[res.window[0]:res.window[1]])
            compared = var * float(np.sqrt(sessions / horizon))
            res = ScenarioResult(
                res.scenario,
                res.kind,
                res.pnl,
                res.position_pnl,
                res.asset_returns,
                var_breach=bool(res.pnl < compared),
                pnl_to_var=float(res.pnl / compared) if compared else None,
                note=res.note,
                window=res.window,
                var_sessions=sessions,
                var_compared=compared,
            )
        out.append(res)
    return sorted(out, key=lambda r: (r.pnl is None, r.pnl if r.pnl is not None else 0.0))


def _one(sc, prices, w, tickers, beta, sectors, mu, cov, confidence) -> ScenarioResult:
    if sc.kind == "historical":
        start, end = pd.Timestamp(sc.start), pd.Timestamp(sc.end)
        first, last = prices.index[0], prices.index[-1]
        if start <= first or end > last:
            return ScenarioResult(
                sc.name,
                sc.kind,
                None,
                note=f"skipped: window {sc.start} to {sc.end} is outside the prices "
                f"({first.date()} to {last.date()})",
            )
        base = prices.loc[: start - pd.Timedelta(days=1)].iloc[-1]
        window = prices.loc[start:end]
        if window.empty:
            return ScenarioResult(sc.name, sc.kind, None, note="skipped: no sessions in window")
        asset = window.iloc[-1] / base - 1.0
        # the worst point of the replay (path drawdown) tells a different story than the end
        path = (window / base - 1.0).to_numpy() @ w
        note = f"trough {path.min():.2%} on {window.index[int(np.argmin(path))].date()}"
        return _result(sc, asset, w, tickers, note, (str(start.date()), str(end.date())))
    if sc.kind == "market":
        asset = beta * sc.market_shock
        return _result(sc, asset, w, tickers, f"market {sc.market_shock:+.0%} through betas")
    if sc.kind == "sector":
        base = beta * sc.market_shock if sc.market_shock is not None else 0.0 * beta
        asset = base.copy()
        for t in tickers:
            s = sectors.get(t)
            if s in sc.sector_shocks:
                asset[t] = sc.sector_shocks[s]
        for t, v in sc.asset_shocks.items():
            if t in asset.index:
                asset[t] = v
        hit = [s for s in sc.sector_shocks if s in {sectors.get(t) for t in tickers}]
        note = "" if hit or sc.asset_shocks else "no held asset is in the shocked sectors"
        return _result(sc, asset, w, tickers, note)
    sd = np.sqrt(np.diag(cov))
    if sc.kind == "volatility":
        stressed = cov * sc.vol_multiplier**2
        note = f"volatilities x{sc.vol_multiplier:g}: P&L is the stressed {confidence:.0%} VaR"
    else:
        corr = np.full_like(cov, sc.correlation)
        np.fill_diagonal(corr, 1.0)
        stressed = corr * np.outer(sd, sd)
        note = f"correlations at {sc.correlation:g}: P&L is the stressed {confidence:.0%} VaR"
    var_s, _ = normal_var_es(float(mu @ w), float(np.sqrt(max(w @ stressed @ w, 0.0))), confidence)
    # per-position split: Euler components of the stressed VaR
    sigma = np.sqrt(w @ stressed @ w)
    z = (var_s - mu @ w) / sigma if sigma > 0 else 0.0
    comp = w * (mu + z * (stressed @ w) / sigma) if sigma > 0 else w * mu
    asset = pd.Series(np.divide(comp, w, out=np.zeros_like(comp), where=w != 0), index=tickers)
    return _result(sc, asset, w, tickers, note)


def _result(sc, asset: pd.Series, w, tickers, note: str, window=None) -> ScenarioResult:
    asset = pd.Series(np.asarray(asset, dtype=float), index=tickers)
    pos = asset * w
    return ScenarioResult(sc.name, sc.kind, float(pos.sum()), pos, asset, note=note, window=window)


# --------------------------------------------------------------------------------------------


def worst_case(results: list[ScenarioResult]) -> dict:
    done = [r for r in results if not r.skipped]
    if not done:
        return {}
    worst = min(done, key=lambda r: r.pnl)
    return {
        "scenario": worst.scenario,
        "kind": worst.kind,
        "pnl": worst.pnl,
        "worst_positions": worst.worst_positions(),
        "scenarios_breaching_var": sum(bool(r.var_breach) for r in done),
        "scenarios_run": len(done),
        "scenarios_skipped": len(results) - len(done),
    }


def recommendations(
    results: list[ScenarioResult],
    weights: pd.Series,
    *,
    component_var: pd.Series,
    var: float,
    concentration_limit: float = 0.10,
    top: int = 3,
) -> list[dict]:
    """Actions read off the numbers: the positions that drive stress losses and VaR.

    For each position that is among the worst in several breaching scenarios, the saving from
    halving it (moving that capital to cash) is computed on the worst scenario and on VaR
    (first-order, via its component VaR).
    """
    recs: list[dict] = []
    breaching = [r for r in results if not r.skipped and r.var_breach]
    if breaching:
        loss_by_asset = pd.concat([r.position_pnl for r in breaching], axis=1).sum(1)
        total_loss = loss_by_asset[loss_by_asset < 0].sum()
        drivers = loss_by_asset[loss_by_asset < 0].sort_values().head(top)
        worst = min(breaching, key=lambda r: r.pnl)
        for asset, total in drivers.items():
            w = float(weights[asset])
            save_worst = -0.5 * float(worst.position_pnl[asset])
            save_var = -0.5 * float(component_var[asset])
            recs.append(
                {
                    "type": "reduce_position",
                    "asset": asset,
                    "weight": w,
                    "suggested_weight": w / 2,
                    "stress_loss_share": float(total / total_loss),
                    "saving_in_worst_scenario": save_worst,
                    "worst_scenario": worst.scenario,
                    "var_saving": save_var,
                    "message": (
                        f"{asset} ({w:.1%}) carries {total / total_loss:.0%}"
                        f" of the loss across the {len(breaching)} scenarios that breach VaR; "
                        f"halving it would cut the '{worst.scenario}' loss by {save_worst:.2%} "
                        f"of capital and VaR by about {save_var:.2%}"
                    ),
                }
            )
    over = weights[weights > concentration_limit]
    for asset, w in over.sort_values(ascending=False).items():
        recs.append(
            {
                "type": "concentration",
                "asset": asset,
                "weight": float(w),
                "limit": concentration_limit,
                "message": (
                    f"{asset} is {w:.1%} of the portfolio, above the {concentration_limit:.0%} "
                    f"concentration limit; its share of VaR is {component_var[asset] / var:.0%}"
                ),
            }
        )
    corr = next((r for r in results if r.kind == "correlation" and not r.skipped), None)
    if corr is not None and var < 0 and corr.pnl < var:
        recs.append(
            {
                "type": "diversification",
                "scenario": corr.scenario,
                "stressed_var": corr.pnl,
                "message": (
                    f"if correlations rose as in '{corr.scenario}', VaR would go from {var:.2%} "
                    f"to {corr.pnl:.2%} ({corr.pnl / var:.1f}x): the diversification benefit "
                    "is fragile; consider assets that hedge in crises"
                ),
            }
        )
    return recs
