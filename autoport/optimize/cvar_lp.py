"""Min CVaR under a long-only cap as the linear programme it is, solved by HiGHS's simplex.

:func:`autoport.optimize.optimize` states min CVaR (Rockafellar-Uryasev) in cvxpy and hands
Clarabel the cone programme, which costs ~13 ms of canonicalisation for a 63-session window of
20 assets and stops at the interior-point tolerance (weights within ~2e-7 of the optimum on the
bundled data's windows). The same programme with the default constraints (fully invested,
``0 <= w <= upper``) is an LP with a vertex optimum; HiGHS's dual simplex lands on that vertex
(bounds met exactly, the basis solved directly) in ~1 ms: a strategy that solves it at every
decision (the regime strategy's bear regime) calls this. Anything else goes to ``optimize``.

The LP goes to HiGHS through the binding scipy ships (``scipy.optimize._highspy._core``), as
``scipy.optimize.linprog(method="highs-ds")`` hands it over (the same column-wise matrix, bounds,
rows and options, and the same acceptance of the answer) without ``linprog``'s input checks,
dense-to-sparse conversion and option validation, which cost three times HiGHS's own solve
here: the same programme to the same solver, so the same answer, bit for bit
(``tests/optimize/test_cvar_lp_direct_highs.py`` compares the two).
"""

from __future__ import annotations

import numpy as np

# tighter than HiGHS's defaults (1e-7): the vertex is solved to rounding either way, these
# only stop the simplex declaring optimality early on a badly scaled window
_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
# linprog's acceptance of HiGHS's optimum (scipy's _check_result: sqrt(tol) * 10, tol 1e-9)
_CHECK_TOL = np.sqrt(1e-9) * 10


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
    r = np.asarray(scenarios, dtype=float)
    t, n = r.shape
    g = (np.empty((0, n)) if rows is None or not len(rows)
         else np.asarray(rows, dtype=float).reshape(-1, n))
    k = len(g)
    cost = np.concatenate([np.zeros(n), [1.0], np.full(t, 1.0 / ((1.0 - beta) * t))])
    b_ub = np.zeros(t) if not k else np.concatenate([np.zeros(t), np.asarray(rhs, dtype=float)])
    low = np.zeros(n) if lower is None else np.asarray(lower, dtype=float)
    high = np.broadcast_to(np.asarray(upper, dtype=float), (n,))
    lb = np.concatenate([low, [-np.inf], np.zeros(t)])
    ub = np.concatenate([high, [np.inf], np.full(t, np.inf)])
    start, index, value = _columns(r, g)
    x, row_value = _solve_highs(cost, start, index, value, b_ub, lb, ub)
    if x is None:
        return None
    # linprog's check of HiGHS's optimum: within the bounds, the rows and the budget
    slack, con = b_ub - row_value[:t + k], 1.0 - row_value[t + k:]
    if (np.isnan(x).any() or np.isnan(slack).any() or np.isnan(con).any()
            or not ((x >= lb - _CHECK_TOL) & (x <= ub + _CHECK_TOL)).all()
            or (slack < -_CHECK_TOL).any() or (np.abs(con) > _CHECK_TOL).any()):
        return None
    return np.asarray(x[:n], dtype=float)


def _columns(r: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The constraint matrix ``[[-r, -1, -I], [g, 0, 0], [1ᵀ, 0, 0]]`` (the scenario rows, the
    general rows, the budget) in compressed columns, as ``scipy.sparse.csc_array`` of the
    dense matrix gives it: row indices ascending in each column, exact zeros left out."""
    t, n = r.shape
    k = len(g)
    # the asset columns: T scenario rows, K general rows, the budget row
    block = np.empty((t + k + 1, n))
    block[:t] = -r
    block[t:t + k] = g
    block[t + k] = 1.0
    keep = block != 0.0
    counts = keep.sum(axis=0)
    rows_of = np.broadcast_to(np.arange(t + k + 1)[:, None], block.shape)
    # column-major order: each asset's rows ascending
    asset_index = rows_of.T[keep.T]
    asset_value = block.T[keep.T]
    start = np.empty(n + 2 + t, dtype=np.int32)
    start[0] = 0
    np.cumsum(counts, out=start[1:n + 1])
    nnz_w = int(start[n])
    start[n + 1] = nnz_w + t  # α: -1 in every scenario row
    start[n + 2:] = nnz_w + t + np.arange(1, t + 1)  # uₜ: -1 in row t
    index = np.concatenate([asset_index, np.arange(t), np.arange(t)]).astype(np.int32)
    value = np.concatenate([asset_value, np.full(2 * t, -1.0)])
    return start, index, value


def _solve_highs(cost, start, index, value, b_ub, lb, ub):
    """HiGHS's dual simplex on ``min cost·x`` over ``-inf <= A_ub x <= b_ub``, ``A_eq x = 1``
    (the last row), ``lb <= x <= ub``, set up as scipy's ``_highs_wrapper`` sets it up for
    ``linprog(method="highs-ds", options=_OPTIONS)``; (x, the rows' values), or (None, None)
    when HiGHS does not report an optimum."""
    from scipy.optimize._highspy import _core as h

    inf = h.kHighsInf
    numrow, numcol = len(b_ub) + 1, len(cost)
    lp = h.HighsLp()
    lp.num_col_ = numcol
    lp.num_row_ = numrow
    lp.a_matrix_.num_col_ = numcol
    lp.a_matrix_.num_row_ = numrow
    lp.a_matrix_.format_ = h.MatrixFormat.kColwise
    lp.col_cost_ = cost
    lp.col_lower_ = np.where(np.isinf(lb), np.copysign(inf, lb), lb)
    lp.col_upper_ = np.where(np.isinf(ub), np.copysign(inf, ub), ub)
    lp.row_lower_ = np.concatenate([np.full(numrow - 1, -inf), [1.0]])
    lp.row_upper_ = np.concatenate([b_ub, [1.0]])
    lp.a_matrix_.start_ = start
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    highs = h._Highs()
    options = h.HighsOptions()
    # linprog's options for highs-ds, those it does not leave unset
    options.presolve = "on"
    options.solver = "simplex"
    options.highs_debug_level = h.HighsDebugLevel.kHighsDebugLevelNone
    options.dual_feasibility_tolerance = _OPTIONS["dual_feasibility_tolerance"]
    options.primal_feasibility_tolerance = _OPTIONS["primal_feasibility_tolerance"]
    options.log_to_console = False
    options.output_flag = False
    options.simplex_strategy = _simplex_dual()
    if highs.passOptions(options) == h.HighsStatus.kError:
        return None, None
    if highs.passModel(lp) == h.HighsStatus.kError:
        return None, None
    if highs.run() == h.HighsStatus.kError:
        return None, None
    if highs.getModelStatus() != h.HighsModelStatus.kOptimal:
        return None, None
    solution = highs.getSolution()
    return np.array(solution.col_value), np.asarray(solution.row_value, dtype=float)


def _simplex_dual():
    from scipy.optimize._highspy._core import simplex_constants

    return simplex_constants.SimplexStrategy.kSimplexStrategyDual
