"""Watching risk day by day: rolling and EWMA correlations, alert rules, incremental updates.

The alert rules are the mission's (``configs/alerts.yaml``): ``var_breach`` (a day's return
below the day's VaR forecast), ``drawdown_alert`` (drawdown beyond a limit),
``concentration_risk`` (a position above a weight limit, default 10%) and
``correlation_spike`` (average pairwise correlation above a limit, default 0.8). They are
evaluated along a history and every alert carries its date, value, limit and the rule's action.

:class:`EwmaRiskMonitor` keeps an EWMA covariance and updates it with one new day of returns
in O(n^2), so VaR, ES and limits for a 500-asset book are recomputed in about a millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy import stats

from autoport import configfile
from autoport.errors import ConfigError, DataError
from autoport.risk._blas import blas_single
from autoport.risk.var import check_confidence

# --------------------------------------------------------------------------------------------
# correlations


def average_pairwise(corr: np.ndarray) -> np.ndarray | float:
    """Mean of the off-diagonal entries of one (n, n) or a stack (..., n, n) of matrices."""
    c = np.asarray(corr, dtype=float)
    n = c.shape[-1]
    if n < 2:
        raise DataError("average pairwise correlation needs at least two assets")
    total = c.sum(axis=(-2, -1)) - np.trace(c, axis1=-2, axis2=-1)
    return total / (n * (n - 1))


def rolling_correlations(returns: pd.DataFrame, window: int = 63) -> np.ndarray:
    """Sample correlation matrices over each trailing ``window``; shape (T - window + 1, n, n).

    Row ``j`` uses returns ``j .. j + window - 1`` and is dated ``returns.index[j + window - 1]``.
    """
    x = _as_frame(returns).to_numpy()
    if x.shape[0] < window:
        raise DataError(f"{x.shape[0]} days are fewer than the correlation window {window}")
    win = sliding_window_view(x, window, axis=0)  # (m, n, window)
    dev = win - win.mean(-1, keepdims=True)
    cov = dev @ dev.transpose(0, 2, 1)
    sd = np.sqrt(np.einsum("mii->mi", cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / (sd[:, :, None] * sd[:, None, :])


def ewma_correlations(returns: pd.DataFrame, lam: float = 0.94, seed_obs: int = 20) -> np.ndarray:
    """EWMA (RiskMetrics, zero mean) correlation after each day; shape (T - seed_obs + 1, n, n).

    Row ``j`` includes returns up to ``returns.index[seed_obs - 1 + j]``.
    """
    if not 0.0 < lam < 1.0:
        raise ConfigError(f"EWMA lambda {lam} must lie strictly between 0 and 1 (e.g. 0.94)")
    x = _as_frame(returns).to_numpy()
    if x.shape[0] < seed_obs:
        raise DataError(f"{x.shape[0]} days are fewer than the {seed_obs} needed to seed EWMA")
    cov = x[:seed_obs].T @ x[:seed_obs] / seed_obs
    out = np.empty((x.shape[0] - seed_obs + 1, x.shape[1], x.shape[1]))
    out[0] = _to_corr(cov)
    for j, r in enumerate(x[seed_obs:], start=1):
        cov = lam * cov + (1.0 - lam) * np.outer(r, r)
        out[j] = _to_corr(cov)
    return out


def _to_corr(cov: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.outer(sd, sd)


def average_correlation_series(
    returns: pd.DataFrame, *, window: int = 63, method: str = "rolling", lam: float = 0.94
) -> pd.Series:
    """Average pairwise correlation through time (rolling window or EWMA).

    No stack of n x n matrices is held: for a window with column deviations ``d_ti`` and norms
    ``s_i``, the sum of all correlations is ``sum_t (sum_i d_ti / s_i)^2``, so a rolling series
    costs O(T W n) time and bounded memory; the EWMA series keeps one running covariance.
    """
    frame = _as_frame(returns)
    x = frame.to_numpy()
    n = x.shape[1]
    if n < 2:
        raise DataError("average pairwise correlation needs at least two assets")
    if method == "rolling":
        if x.shape[0] < window:
            raise DataError(f"{x.shape[0]} days are fewer than the correlation window {window}")
        views = sliding_window_view(x, window, axis=0)  # (m, n, window), no copy
        out = np.empty(views.shape[0])
        block = max(1, 4_000_000 // (n * window))
        for j in range(0, views.shape[0], block):
            win = views[j : j + block]
            dev = win - win.mean(-1, keepdims=True)
            norm = np.sqrt((dev * dev).sum(-1, keepdims=True))
            with np.errstate(invalid="ignore", divide="ignore"):
                total = ((dev / norm).sum(1) ** 2).sum(-1)
            out[j : j + block] = (total - n) / (n * (n - 1))
        idx = frame.index[window - 1 :]
    elif method == "ewma":
        if not 0.0 < lam < 1.0:
            raise ConfigError(f"EWMA lambda {lam} must lie strictly between 0 and 1 (e.g. 0.94)")
        seed_obs = 20
        if x.shape[0] < seed_obs:
            raise DataError(f"{x.shape[0]} days are fewer than the {seed_obs} needed for EWMA")
        cov = x[:seed_obs].T @ x[:seed_obs] / seed_obs
        out = np.empty(x.shape[0] - seed_obs + 1)
        out[0] = average_pairwise(_to_corr(cov))
        for j, r in enumerate(x[seed_obs:], start=1):
            cov *= lam
            cov += (1.0 - lam) * np.outer(r, r)
            sd = np.sqrt(np.diag(cov))
            with np.errstate(invalid="ignore", divide="ignore"):  # a flat asset: NaN, not noise
                out[j] = ((cov / sd).T / sd).sum() - n
        out[1:] /= n * (n - 1)
        idx = frame.index[seed_obs - 1 :]
    else:
        raise ConfigError(f"unknown correlation method {method!r}; choose rolling or ewma")
    return pd.Series(out, index=idx, name="avg_pairwise_correlation")


def correlation_alerts(avg_corr: pd.Series, threshold: float = 0.8) -> pd.Series:
    """Days the average pairwise correlation is above ``threshold``."""
    return avg_corr[avg_corr > threshold]


def _as_frame(returns) -> pd.DataFrame:
    if isinstance(returns, pd.DataFrame):
        return returns
    return pd.DataFrame(np.asarray(returns, dtype=float))


# --------------------------------------------------------------------------------------------
# alert rules

Metric = Literal["var_breach", "drawdown", "max_weight", "avg_correlation"]


class AlertRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    metric: Metric
    limit: float | None = None  # drawdown (negative return), weight, or correlation
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)  # var_breach
    window: int = Field(default=63, ge=5)  # avg_correlation lookback, in sessions
    action: str
    description: str = ""
    on_entry_only: bool = True  # report the first day of each episode, not every day in it
    # after an alert the rule re-arms only once the value is back beyond ``rearm`` (hysteresis
    # against a value flapping around the limit); None re-arms as soon as the limit is cleared
    rearm: float | None = None


class AlertConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[AlertRule]


def parse_alert_rules(text: str, source: str = "alerts.yaml") -> AlertConfig:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from exc
    try:
        cfg = AlertConfig.model_validate(raw)
    except ValidationError as exc:
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise ConfigError(f"{source} is invalid: {msg}") from None
    for rule in cfg.rules:
        if rule.metric != "var_breach" and rule.limit is None:
            raise ConfigError(f"{source}: rule {rule.name!r} ({rule.metric}) needs a limit")
    return cfg


def load_alert_rules(path: str | Path | None = None) -> AlertConfig:
    if path is None:
        text = resources.files("autoport.configs").joinpath("alerts.yaml").read_text()
        return parse_alert_rules(text, "bundled alerts.yaml")
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"alert rules file {p} does not exist; pass an existing YAML file")
    return parse_alert_rules(configfile.read_text(p), str(p))


@dataclass(frozen=True)
class Alert:
    date: pd.Timestamp
    rule: str
    metric: str
    value: float
    limit: float
    action: str

    def as_dict(self) -> dict:
        return {
            "date": self.date,
            "rule": self.rule,
            "metric": self.metric,
            "value": self.value,
            "limit": self.limit,
            "action": self.action,
        }


def drawdown(returns: pd.Series) -> pd.Series:
    """Drawdown from the running peak of the compounded value (0 at peaks, negative below)."""
    wealth = (1.0 + returns).cumprod()
    peak = np.maximum(wealth.cummax(), 1.0)
    return wealth / peak - 1.0


def evaluate_alerts(
    config: AlertConfig,
    *,
    portfolio_returns: pd.Series,
    var_forecasts: dict[float, pd.Series] | pd.Series | None = None,
    weights: pd.DataFrame | pd.Series | None = None,
    asset_returns: pd.DataFrame | None = None,
) -> list[Alert]:
    """Evaluate every rule along the history; alerts sorted by date.

    ``var_forecasts`` maps a confidence to causal one-day VaR forecasts (a Series is taken as
    the forecasts for every rule's confidence). ``weights``: one row per date (or one fixed
    Series, checked on the last date). ``asset_returns`` feed the correlation rule.
    """
    alerts: list[Alert] = []
    for rule in config.rules:
        if rule.metric == "var_breach":
            check_confidence(rule.confidence)
            if var_forecasts is None:
                continue
            fc = (
                var_forecasts
                if isinstance(var_forecasts, pd.Series)
                else var_forecasts.get(rule.confidence)
            )
            if fc is None:
                continue
            realised = portfolio_returns.reindex(fc.index)
            hit = realised < fc
            # every VaR breach is its own event
            for d in fc.index[hit.to_numpy()]:
                alerts.append(
                    Alert(d, rule.name, rule.metric, float(realised[d]), float(fc[d]), rule.action)
                )
            continue
        if rule.metric == "drawdown":
            values = drawdown(portfolio_returns)
            hit = values < rule.limit
        elif rule.metric == "max_weight":
            if weights is None:
                continue
            wf = weights.to_frame().T if isinstance(weights, pd.Series) else weights
            if isinstance(weights, pd.Series):
                wf.index = [portfolio_returns.index[-1]]
            values = wf.max(axis=1)
            hit = values > rule.limit
            for d in values.index[hit.to_numpy()]:
                row = wf.loc[d]
                over = row[row > rule.limit].sort_values(ascending=False)
                for asset, v in over.items():
                    alerts.append(
                        Alert(d, rule.name, f"weight:{asset}", float(v), rule.limit, rule.action)
                    )
            continue
        else:  # avg_correlation
            if asset_returns is None or asset_returns.shape[1] < 2:
                continue
            if len(asset_returns) < rule.window:
                continue
            values = average_correlation_series(asset_returns, window=rule.window)
            hit = values > rule.limit
        hit = hit.fillna(False).astype(bool)
        if not rule.on_entry_only:
            days = hit[hit].index
        else:
            days = _entries(
                hit,
                values,
                rule.limit if rule.rearm is None else rule.rearm,
                above=rule.metric == "avg_correlation",
            )
        for d in days:
            alerts.append(
                Alert(d, rule.name, rule.metric, float(values[d]), rule.limit, rule.action)
            )
    return sorted(alerts, key=lambda a: (a.date, a.rule))


def _entries(hit: pd.Series, values: pd.Series, rearm: float, *, above: bool) -> list:
    """First day of each episode; a new episode needs the value back beyond ``rearm`` first."""
    days, armed = [], True
    v = values.reindex(hit.index).to_numpy()
    for d, h, x in zip(hit.index, hit.to_numpy(), v, strict=True):
        if armed and h:
            days.append(d)
            armed = False
        elif not armed and (x <= rearm if above else x >= rearm):
            armed = True
    return days


# --------------------------------------------------------------------------------------------
# incremental updates


class EwmaRiskMonitor:
    """EWMA covariance (zero mean, RiskMetrics) with O(n^2) one-day updates.

    ``fit(returns)`` runs the recursion over a history; ``update(r)`` folds in one new day;
    ``var_es(weights)`` is then the normal VaR/ES for the next day, and ``check_limits`` the
    concentration and VaR limits. Fitted attributes end in ``_``.
    """

    def __init__(self, lam: float = 0.94, confidence: float = 0.95) -> None:
        self.lam = lam
        self.confidence = confidence

    @blas_single
    def fit(self, returns: np.ndarray | pd.DataFrame) -> EwmaRiskMonitor:
        x = np.asarray(returns, dtype=float)
        if x.ndim != 2 or x.shape[0] < 2:
            raise DataError("fit needs a (days x assets) table with at least two days")
        lam = self.lam
        t = x.shape[0]
        # cov_T = (1 - lam) sum_k lam^(T-1-k) r_k r_k' + lam^T cov_0, cov_0 = sample 2nd moment
        wts = (1.0 - lam) * lam ** np.arange(t - 1, -1, -1, dtype=float)
        cov = (x * wts[:, None]).T @ x + lam**t * (x.T @ x / t)
        self.cov_ = cov
        self.n_updates_ = 0
        return self

    @blas_single
    def update(self, r: np.ndarray) -> EwmaRiskMonitor:
        r = np.asarray(r, dtype=float).ravel()
        if r.shape[0] != self.cov_.shape[0]:
            raise DataError(f"new day has {r.shape[0]} returns for {self.cov_.shape[0]} assets")
        if not np.isfinite(r).all():
            raise DataError("the new day of returns holds NaN; fill or drop the missing prices")
        # cov = lam cov + (1 - lam) r r', in place (BLAS rank-1 update through numpy)
        self.cov_ *= self.lam
        self.cov_ += (1.0 - self.lam) * np.outer(r, r)
        self.n_updates_ += 1
        return self

    @blas_single
    def var_es(self, weights: np.ndarray) -> tuple[float, float]:
        a = 1.0 - check_confidence(self.confidence)
        w = np.asarray(weights, dtype=float)
        sigma = float(np.sqrt(max(w @ self.cov_ @ w, 0.0)))
        z = stats.norm.ppf(a)
        return z * sigma, -sigma * stats.norm.pdf(z) / a

    def check_limits(
        self, weights: np.ndarray, *, var_limit: float, max_weight: float = 0.10
    ) -> dict:
        var, es = self.var_es(weights)
        w = np.asarray(weights, dtype=float)
        sig_w = self.cov_ @ w
        sigma = float(np.sqrt(max(w @ sig_w, 0.0)))
        component = w * sig_w * (var / sigma**2) if sigma > 0 else np.zeros_like(w)
        return {
            "var": var,
            "expected_shortfall": es,
            "component_var": component,  # Euler: sums to var
            "largest_contributor": int(np.argmin(component)),
            "var_limit_breached": var < var_limit,
            "positions_over_limit": np.flatnonzero(w > max_weight).tolist(),
        }
