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


def min_cvar_weights(scenarios: np.ndarray, upper: float, beta: float = 0.95
                     ) -> np.ndarray | None:
    """Weights minimising the CVaR at level ``beta`` of the loss ``-scenarios @ w`` over
    ``sum(w) = 1``, ``0 <= w <= upper``; None when HiGHS does not report an optimum.

    ``min α + Σ uₜ / ((1 − β) T)`` over ``(w, α, u)`` with ``uₜ ≥ −rₜᵀw − α``, ``u ≥ 0``: the
    programme of :func:`autoport.measures` (``_cvar_expr``) and PyPortfolioOpt's
    ``EfficientCVaR.min_cvar``.

    Parameters
    ----------
    scenarios
        Daily simple returns, shape (T, N), no missing values.
    upper
        Cap per asset (``upper * N >= 1``).
    beta
        Confidence level (0.95: the worst 5% of sessions).
    """
    from scipy.optimize import linprog

    r = np.asarray(scenarios, dtype=float)
    t, n = r.shape
    cost = np.concatenate([np.zeros(n), [1.0], np.full(t, 1.0 / ((1.0 - beta) * t))])
    a_ub = np.hstack([-r, -np.ones((t, 1)), -np.eye(t)])  # −rₜᵀw − α − uₜ ≤ 0
    a_eq = np.concatenate([np.ones(n), np.zeros(1 + t)])[None, :]
    bounds = np.array([(0.0, upper)] * n + [(-np.inf, np.inf)] + [(0.0, np.inf)] * t)
    res = linprog(cost, A_ub=a_ub, b_ub=np.zeros(t), A_eq=a_eq, b_eq=[1.0], bounds=bounds,
                  method="highs-ds", options=_OPTIONS)
    if res.status != 0 or res.x is None:
        return None
    return np.asarray(res.x[:n], dtype=float)
