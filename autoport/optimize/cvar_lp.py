"""Min CVaR under a long-only cap as the linear programme it is, solved by HiGHS's simplex.

:func:`autoport.optimize.optimize` states min CVaR (Rockafellar-Uryasev) in cvxpy and hands
Clarabel the cone programme, which costs ~13 ms of canonicalisation for a 63-session window of
20 assets and stops at the interior-point tolerance (weights within ~2e-7 of the optimum on the
bundled data's windows). The same programme with the default constraints (fully invested,
``0 <= w <= upper``) is an LP with a vertex optimum; HiGHS's dual simplex lands on that vertex
(bounds met exactly, the basis solved directly) in ~2 ms: a strategy that solves it at every
decision (the regime strategy's bear regime) calls this. Anything else goes to ``optimize``.
"""

from __future__ import annotations

import numpy as np

# tighter than HiGHS's defaults (1e-7): the vertex is solved to rounding either way, these
# only stop the simplex declaring optimality early on a badly scaled window
_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def min_cvar_weights(scenarios: np.ndarray, upper: float | np.ndarray, beta: float = 0.95,
                     *, lower: np.ndarray | None = None, rows: np.ndarray | None = None,
                     rhs: np.ndarray | None = None) -> np.ndarray | None:
    """Weights minimising the CVaR at level ``beta`` of the loss ``-scenarios @ w`` over
    ``sum(w) = 1``, ``lower <= w <= upper`` and ``rows @ w <= rhs``; None when HiGHS does not
    report an optimum.

    ``min α + Σ uₜ / ((1 − β) T)`` over ``(w, α, u)`` with ``uₜ ≥ −rₜᵀw − α``, ``u ≥ 0``: the
    programme of :func:`autoport.measures` (``_cvar_expr``) and PyPortfolioOpt's
    ``EfficientCVaR.min_cvar``.

    Parameters
    ----------
    scenarios
        Daily simple returns, shape (T, N), no missing values.
    upper
        Cap per asset, one for all or shape (N,) (``sum(upper) >= 1``).
    beta
        Confidence level (0.95: the worst 5% of sessions).
    lower
        Floor per asset, shape (N,); None: 0 (long-only).
    rows, rhs
        General limits ``rows @ w <= rhs``, shapes (K, N) and (K,) (sector caps, an ESG floor
        as :func:`autoport.optimize._homotopy._rows` states them); None: none.
    """
    from scipy.optimize import linprog

    r = np.asarray(scenarios, dtype=float)
    t, n = r.shape
    cost = np.concatenate([np.zeros(n), [1.0], np.full(t, 1.0 / ((1.0 - beta) * t))])
    a_ub = np.hstack([-r, -np.ones((t, 1)), -np.eye(t)])  # −rₜᵀw − α − uₜ ≤ 0
    b_ub = np.zeros(t)
    if rows is not None and len(rows):
        k = len(rows)
        a_ub = np.vstack([a_ub, np.hstack([np.asarray(rows, dtype=float), np.zeros((k, 1 + t))])])
        b_ub = np.concatenate([b_ub, np.asarray(rhs, dtype=float)])
    a_eq = np.concatenate([np.ones(n), np.zeros(1 + t)])[None, :]
    low = np.zeros(n) if lower is None else np.asarray(lower, dtype=float)
    high = np.broadcast_to(np.asarray(upper, dtype=float), (n,))
    bounds = np.array(list(zip(low, high, strict=True)) + [(-np.inf, np.inf)]
                      + [(0.0, np.inf)] * t)
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0], bounds=bounds,
                  method="highs-ds", options=_OPTIONS)
    if res.status != 0 or res.x is None:
        return None
    return np.asarray(res.x[:n], dtype=float)
