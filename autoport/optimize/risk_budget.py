"""Risk budgeting: long-only weights whose risk contributions match a budget.

The risk contribution of asset i is ``RC_i = w_i (Σw)_i / wᵀΣw`` (they sum to 1). Per asset,
the weights solve the strictly convex ``min ½ yᵀΣy − Σ b_i log y_i`` (Spinu 2013) and
``w = y / Σy``; Newton's method reaches machine precision in a few steps. Per asset class,
``min ½ yᵀΣy − Σ_g b_g log(Σ_{i∈g} y_i)`` with ``y ≥ 0`` gives class contributions equal to
``b_g`` (its optimality conditions make ``y_i (Σy)_i`` sum to ``b_g`` over each class); Clarabel
solves it and Newton polishes the answer on its support.
"""

from __future__ import annotations

from collections.abc import Mapping

import cvxpy as cp
import numpy as np
import pandas as pd

from autoport.errors import ConfigError, OptimizationError
from autoport.optimize import constraints as C
from autoport.optimize import solvers


def risk_contributions(weights: np.ndarray | pd.Series, cov: np.ndarray | pd.DataFrame):
    """Share of portfolio variance from each asset (sums to 1).

    Parameters
    ----------
    weights
        Portfolio weights, shape (N,).
    cov
        Annualised covariance of daily returns, shape (N, N).
    """
    w = np.asarray(weights, dtype=float)
    s = np.asarray(cov, dtype=float)
    marginal = s @ w
    total = float(w @ marginal)
    out = w * marginal / total
    if isinstance(weights, pd.Series):
        return pd.Series(out, index=weights.index, name="risk_contribution")
    return out


def _newton(cov: np.ndarray, members: np.ndarray, budget: np.ndarray, y0: np.ndarray,
            iters: int = 100) -> np.ndarray:
    """Minimise ½ yᵀΣy − Σ_g b_g log(m_gᵀ y) over y > 0 (members: groups × assets)."""
    y = y0.copy()

    def f(v):
        s = members @ v
        if np.any(v <= 0) or np.any(s <= 0):
            return np.inf
        return 0.5 * v @ cov @ v - budget @ np.log(s)

    for _ in range(iters):
        s = members @ y
        grad = cov @ y - members.T @ (budget / s)
        hess = cov + (members.T * (budget / s**2)) @ members
        step = np.linalg.solve(hess, grad)
        dec = float(grad @ step)
        if dec < 1e-24:
            break
        t, fy = 1.0, f(y)
        while f(y - t * step) > fy - 0.25 * t * dec:
            t *= 0.5
            if t < 1e-12:
                return y
        y = y - t * step
    return y


def risk_budgeting(
    cov: pd.DataFrame,
    budget: Mapping[str, float] | None = None,
    *,
    asset_classes: Mapping[str, str] | None = None,
    constraints: C.Constraints | None = None,
    mu: pd.Series | None = None,
    risk_free_rate: float = 0.0,
):
    """Weights whose risk contributions equal ``budget`` (normalised to sum to 1).

    ``budget`` keys are tickers, or asset classes when ``asset_classes`` (ticker → class) is
    given; None means equal risk contribution across assets (or classes). Only long-only,
    fully invested portfolios are supported: any other constraint raises ``ConfigError``.

    Parameters
    ----------
    cov
        Annualised covariance of daily returns, shape (N, N).
    budget
        Target share of risk per ticker (or per class); None: equal.
    asset_classes
        Class of each ticker, when ``budget`` is by class.
    constraints
        Only long-only, fully invested constraints are accepted; None: those.
    mu
        Expected annual returns, shape (N,), for the reported return and Sharpe ratio; None: NaN.
    risk_free_rate
        Annual risk-free rate.
    """
    from autoport.optimize.result import OptimizationResult

    if constraints is not None and constraints != C.Constraints():
        raise ConfigError(
            "risk budgeting supports long-only, fully invested weights only; drop the other "
            "constraints or use another objective"
        )
    tickers = list(cov.index)
    s = np.asarray(cov, dtype=float)
    n = len(tickers)
    if np.any(np.diag(s) <= 0):
        zero = [t for t, v in zip(tickers, np.diag(s), strict=True) if v <= 0]
        raise ConfigError(f"risk budgeting needs positive variances; zero for {', '.join(zero)}")
    if asset_classes is None:
        members = np.eye(n)
        names = tickers
    else:
        missing = [t for t in tickers if t not in asset_classes]
        if missing:
            raise ConfigError(f"asset class missing for {', '.join(missing)}")
        names = sorted({asset_classes[t] for t in tickers})
        members = np.array([[1.0 if asset_classes[t] == g else 0.0 for t in tickers]
                            for g in names])
    if budget is None:
        b = np.full(len(names), 1.0 / len(names))
    else:
        unknown = sorted(set(budget) - set(names))
        if unknown:
            raise ConfigError(
                f"risk budget names unknown {'asset classes' if asset_classes else 'tickers'} "
                f"{', '.join(unknown)}"
            )
        b = np.array([float(budget.get(g, 0.0)) for g in names])
        if np.any(b <= 0):
            zero = [g for g, v in zip(names, b, strict=True) if v <= 0]
            raise ConfigError(
                f"every risk budget must be positive (missing or ≤ 0 for {', '.join(zero)}); "
                "exclude an asset instead of giving it a zero budget"
            )
        b = b / b.sum()
    scale = np.sqrt(np.diag(s))
    solver = "newton"
    if asset_classes is None:
        y = _newton(s, members, b, b / scale / np.sqrt(b / scale @ s @ (b / scale)))
    else:
        yv = cp.Variable(n, nonneg=True)
        prob = cp.Problem(cp.Minimize(0.5 * cp.quad_form(yv, cp.psd_wrap(s))
                                      - b @ cp.log(members @ yv)))
        report = solvers.solve(prob, ("CLARABEL", "SCS"))
        if report.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or yv.value is None:
            raise OptimizationError(f"risk budgeting failed: solver status {report.status}")
        solver = report.solver + "+newton"
        y0 = np.asarray(yv.value)
        support = y0 > 1e-7 * y0.max()
        y = np.zeros(n)
        y[support] = _newton(s[np.ix_(support, support)], members[:, support], b, y0[support])
    w = y / y.sum()
    mu_arr = np.asarray(mu, dtype=float) if mu is not None else np.full(n, np.nan)
    ret = float(mu_arr @ w)
    vol = float(np.sqrt(w @ s @ w))
    rc = risk_contributions(w, s)
    return OptimizationResult(
        objective="risk_parity",
        weights=pd.Series(w, index=tickers, name="weight"),
        expected_return=ret,
        volatility=vol,
        sharpe_ratio=(ret - risk_free_rate) / vol,
        risk_free_rate=risk_free_rate,
        solver=solver,
        status="optimal",
        extra={
            "risk_contributions": dict(zip(tickers, rc, strict=True)),
            "class_risk_contributions": dict(zip(names, members @ rc, strict=True)),
            "risk_budget": dict(zip(names, b, strict=True)),
        },
    )
