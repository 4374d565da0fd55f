"""Rebalancing triggers: calendar, drift, regime change, risk; and the cost-benefit gate.

Pure functions on weights and dates. A trigger says *why* a rebalance is considered; the gate
(:func:`worth_trading`) says whether the expected benefit beats the cost. Risk triggers bypass
the gate: cutting a limit breach is not a matter of expected return.

Drift fires *at* the threshold (``>=``), with a 1e-12 tolerance for floating-point noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from autoport.errors import ConfigError

EPS = 1e-12
PERIODS_PER_YEAR = 252


@dataclass(frozen=True)
class Drift:
    """Distance of the current (drifted) weights from the target.

    ``max_abs``: the largest ``|w_i - target_i|`` (fraction of the portfolio) and its
    ``asset``; ``total``: ``sum |w - target| / 2`` (the one-way turnover a rebalance needs).
    """

    max_abs: float
    asset: str | None
    total: float
    by_asset: dict = field(default_factory=dict)


def drift(current: pd.Series, target: pd.Series) -> Drift:
    """Drift of ``current`` from ``target`` over the union of their tickers (cash excluded)."""
    if current.index.equals(target.index) and current.index.is_unique:
        # the same tickers (the union is the index itself): pandas' numbers on the arrays
        c, t = current.to_numpy(dtype=float), target.to_numpy(dtype=float)
        d = c - t
        if len(d) and np.isfinite(d).all():
            a = np.abs(d)
            return Drift(float(a.max()), str(current.index[int(np.argmax(a))]),
                         float(a.sum() / 2.0),
                         {str(k): float(v) for k, v in zip(current.index, d.tolist(),
                                                           strict=True) if abs(v) > 1e-9})
    idx = current.index.union(target.index)
    diff = current.reindex(idx, fill_value=0.0) - target.reindex(idx, fill_value=0.0)
    if diff.empty:
        return Drift(0.0, None, 0.0, {})
    absdiff = diff.abs()
    asset = str(absdiff.idxmax())
    return Drift(
        float(absdiff.max()), asset, float(absdiff.sum() / 2.0),
        {str(k): float(v) for k, v in diff.items() if abs(v) > 1e-9},
    )


def drift_trigger(d: Drift, threshold: float, total_threshold: float | None = None) -> str | None:
    """A sentence when drift reaches a threshold, else None (fires exactly *at* the threshold)."""
    if threshold <= 0:
        raise ConfigError(f"rebalance_threshold must be positive, got {threshold}")
    if d.max_abs >= threshold - EPS:
        return (f"{d.asset} is {d.max_abs:.2%} off its target, at or beyond the "
                f"{threshold:.2%} drift threshold")
    if total_threshold is not None and d.total >= total_threshold - EPS:
        return (f"total drift {d.total:.2%} is at or beyond the {total_threshold:.2%} "
                "total-drift threshold")
    return None


_MONTHS = {"monthly": 1, "quarterly": 3, "annually": 12}


def calendar_due(last_review: pd.Timestamp | None, today: pd.Timestamp, calendar: str) -> bool:
    """True when a new calendar period (session, month, quarter, year) has begun since
    ``last_review``."""
    if calendar == "never":
        return False
    if calendar != "every_day" and calendar not in _MONTHS:
        raise ConfigError(f"unknown calendar {calendar!r}; use never, every_day, monthly, "
                          "quarterly, annually")
    if last_review is None:
        return True
    if calendar == "every_day":
        return today.normalize() != last_review.normalize()
    months = _MONTHS[calendar]
    period = lambda t: (t.year * 12 + t.month - 1) // months  # noqa: E731
    return period(today) != period(last_review)


def regime_change(previous: str | None, current: str | None) -> str | None:
    if previous is None or current is None or previous == current:
        return None
    return f"the detected regime changed from {previous} to {current}"


def risk_trigger(var: float, var_limit: float, confidence: float) -> str | None:
    """VaR and its limit are returns (negative = loss): a breach is ``var < var_limit``."""
    if var < var_limit:
        return (f"one-day {confidence:.0%} VaR of the current portfolio {var:.2%} is beyond "
                f"the {var_limit:.2%} limit")
    return None


@dataclass(frozen=True)
class CostBenefit:
    """Expected benefit and cost of moving to the target, both as fractions of the portfolio."""

    benefit: float
    cost: float
    tracking_error: float  # annualised volatility of (current - target)
    utility_gain: float  # annual, under the optimiser's own estimates
    worth_it: bool


def worth_trading(
    current: pd.Series,
    target: pd.Series,
    mu: pd.Series,
    cov: pd.DataFrame,
    *,
    risk_aversion: float,
    cost_rate: float,
    horizon_sessions: int,
    extra_cost: float = 0.0,
) -> CostBenefit:
    """Certainty-equivalent benefit of trading ``current`` → ``target`` vs. its cost.

    Benefit over ``horizon_sessions`` (a fraction of a year ``h``):
    ``h · (δ/2 · TE² + max(0, ΔU))``, where TE² = ``(w−t)ᵀΣ(w−t)`` is the annualised
    tracking variance of staying off target (the certainty-equivalent loss a δ-averse investor
    bears, Leland 1999) and ``ΔU = U(t) − U(w)`` the mean-variance utility gain
    ``U(w) = μᵀw − δ/2 wᵀΣw``. Cost: ``cost_rate · Σ|t − w|`` plus ``extra_cost`` (for
    example the tax a sale would realise, as a fraction of the portfolio).
    """
    tickers = mu.index
    w = current.reindex(tickers, fill_value=0.0).to_numpy(float)
    t = target.reindex(tickers, fill_value=0.0).to_numpy(float)
    s = cov.loc[tickers, tickers].to_numpy(float)
    m = mu.to_numpy(float)
    d = w - t
    te2 = float(max(d @ s @ d, 0.0))

    def util(x):
        return float(m @ x - 0.5 * risk_aversion * x @ s @ x)

    gain = util(t) - util(w)
    h = horizon_sessions / PERIODS_PER_YEAR
    benefit = h * (0.5 * risk_aversion * te2 + max(0.0, gain))
    cost = cost_rate * float(np.abs(d).sum()) + extra_cost
    return CostBenefit(benefit, cost, float(np.sqrt(te2)), gain, benefit > cost)
