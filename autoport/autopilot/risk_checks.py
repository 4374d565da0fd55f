"""Pre-trade risk checks: position, sector and leverage limits, then post-trade VaR.

A proposed allocation is *resized* when a limit can be met by moving weight (capping a
position or a sector and spreading the excess over assets with room, or scaling equities into
cash to meet the VaR limit), and *refused* when meeting the limit would leave less than
``min_invested`` of the portfolio invested. Every change carries a sentence saying why.

Weights are fractions of the portfolio, long-only; ``1 - sum(weights)`` is cash. VaR is the
one-day historical VaR of the weights on the trailing daily returns, a return (negative =
loss); it scales linearly with the invested fraction, which is what makes the cash resize exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from autoport.errors import InfeasibleError
# the caps live in optimize (risk parity is capped with them too); the checks resize with them
from autoport.optimize.capping import TOL, cap_positions, cap_sectors  # noqa: F401
from autoport.risk import historical_var


@dataclass(frozen=True)
class CheckResult:
    weights: pd.Series  # allowed target weights (the proposal, resized, or the current ones)
    status: str  # "ok" | "resized" | "refused"
    reasons: tuple[str, ...]
    var_before: float  # VaR of the proposal as it came in
    var_after: float  # VaR of the allowed weights
    details: dict = field(default_factory=dict)


def long_only(weights: pd.Series) -> pd.Series:
    """``weights.clip(lower=0.0)`` (negatives to 0; -0.0 and NaN kept) without its
    alignment machinery: one array operation."""
    x = weights.to_numpy()
    return pd.Series(np.where(x < 0.0, 0.0, x), index=weights.index, name=weights.name)


def portfolio_var(weights: pd.Series, returns: pd.DataFrame, confidence: float) -> float:
    """One-day historical VaR (a return) of ``weights`` on trailing daily ``returns``."""
    w = (weights if weights.index.equals(returns.columns)
         else weights.reindex(returns.columns, fill_value=0.0)).to_numpy(float)
    if not np.any(w):
        return 0.0
    # the VaR quantile of the same product (not the ES and tail attribution it would drop)
    return window_vars(returns, [(0, len(returns))], [w], confidence)[0]


def _historical_var(w: np.ndarray, returns: pd.DataFrame, confidence: float) -> float:
    """:func:`autoport.risk.historical_var`'s VaR, which checks its inputs and names what
    is wrong with them."""
    if not np.any(w):
        return 0.0
    return float(historical_var(returns.to_numpy(float), w, confidence=confidence).var)


def _weight_flags(weights: Sequence[np.ndarray]) -> tuple[list[bool], list[bool]]:
    """``np.isfinite(w).all()`` and ``np.any(w)`` of each weights vector: in two array
    passes over them all when there are several of one length (the override hands 2 per
    session), vector by vector otherwise (a single window: the stacking would cost more)."""
    rows = [np.asarray(w, dtype=float) for w in weights]
    if len(rows) < 4 or len({r.shape for r in rows}) != 1 or rows[0].ndim != 1:
        return ([bool(np.isfinite(r).all()) for r in rows], [bool(np.any(r)) for r in rows])
    stacked = np.vstack(rows)
    return (np.isfinite(stacked).all(axis=1).tolist(), stacked.any(axis=1).tolist())


def window_vars(returns: pd.DataFrame, windows: Sequence[tuple[int, int]],
                weights: Sequence[np.ndarray], confidence: float) -> list[float]:
    """``portfolio_var(w, returns.iloc[lo:hi], confidence)`` for each ``(lo, hi)`` window and
    weights ``w`` (numpy, over ``returns``' columns), the same numbers to the bit.

    The override reads two VaRs on every session since the last decision; here the returns
    are converted and checked once, the BLAS limit is set once, and each window computes its
    portfolio returns (the same product on the same memory) and their VaR quantile only, not
    the ES and tail attribution :func:`~autoport.risk.historical_var` adds. A window or
    weights that one of them would refuse goes through :func:`autoport.risk.historical_var`,
    which raises its error. :func:`portfolio_var` is the one-window case.
    """
    from autoport import measures
    from autoport._blas import single_threaded_blas
    from autoport.risk.var_common import alpha

    a = alpha(confidence)
    x = returns.to_numpy(float)
    clean = bool(np.isfinite(x).all() and not (x <= -1.0).any())
    out: list[float] = [0.0] * len(windows)
    finite, invested = _weight_flags(weights)
    pnl: dict[int, list[tuple[int, np.ndarray]]] = {}  # by window length: (window, returns)
    with single_threaded_blas():
        for i, ((lo, hi), w) in enumerate(zip(windows, weights, strict=True)):
            win = x[lo:hi]
            if not (clean and len(win) >= 2 and finite[i]):
                out[i] = _historical_var(np.asarray(w, dtype=float), returns.iloc[lo:hi],
                                         confidence)
            elif invested[i]:
                pnl.setdefault(len(win), []).append((i, win @ w))
    # each window's VaR is the k-th smallest of its returns (scenario_var_es's VaR): taken
    # for all windows of a length at once, the same order statistic
    for group in pnl.values():
        var, _ = measures.var_es_rows(np.vstack([r for _, r in group]), a)
        for (i, _), v in zip(group, var.tolist(), strict=True):
            out[i] = v
    return out


def esg_score(weights: pd.Series, scores: Mapping[str, float]) -> float | None:
    """Weighted average ESG score of the invested part (cash excluded); None when all cash."""
    w = weights[weights > TOL]
    if w.empty:
        return None
    return float(sum(w[t] * scores[t] for t in w.index) / w.sum())


def meet_esg(
    weights: pd.Series, scores: Mapping[str, float], min_score: float | None,
    excluded: Sequence[str] = (),
) -> tuple[pd.Series, list[str]]:
    """Excluded names to zero, then the lowest-scoring names cut into cash, each by just enough,
    until the invested average reaches ``min_score``. Cash keeps every other limit intact
    (positions, sectors, VaR only shrink)."""
    w = weights.astype(float).copy()
    notes: list[str] = []
    for t in excluded:
        if t in w.index and w[t] > TOL:
            notes.append(f"{t} ({scores[t]:.1f}) is excluded by its ESG score: {w[t]:.2%} "
                         "moved to cash")
            w[t] = 0.0
    if min_score is None:
        return w, notes
    before = esg_score(w, scores)
    if before is None or before >= min_score - TOL:
        return w, notes
    for t in sorted((t for t in w.index if w[t] > TOL), key=lambda t: scores[t]):
        if scores[t] >= min_score:
            break
        total, weighted = float(w.sum()), float(sum(w[k] * scores[k] for k in w.index))
        need = (min_score * total - weighted) / (min_score - scores[t])
        if need <= TOL:
            break
        cut = min(float(w[t]), need)
        w[t] -= cut
        notes.append(f"{t} ({scores[t]:.1f}) cut by {cut:.2%} into cash: the ESG average "
                     f"{before:.1f} was below the {min_score:.1f} floor")
    return w, notes


def pre_trade_check(
    proposed: pd.Series,
    current: pd.Series,
    returns: pd.DataFrame,
    *,
    max_position: float,
    sectors: Mapping[str, str] | None = None,
    sector_limits: Mapping[str, float] | None = None,
    max_leverage: float = 1.0,
    var_limit: float,
    confidence: float = 0.95,
    min_invested: float = 0.3,
    esg_scores: Mapping[str, float] | None = None,
    min_esg: float | None = None,
    esg_excluded: Sequence[str] = (),
) -> CheckResult:
    """Check ``proposed`` before it becomes orders; resize or refuse with reasons.

    Order of checks: long-only, positions, sectors, leverage (gross exposure ``Σ|w|``), ESG
    (excluded names and the floor on the invested average, both by moving weight to cash),
    then post-trade VaR on ``returns`` (the trailing window; its cash scaling leaves the ESG
    average unchanged). A refusal returns ``current``.
    """
    if (proposed < -TOL).any():
        raise InfeasibleError(
            f"the autopilot is long-only but the proposal shorts "
            f"{', '.join(proposed.index[proposed < -TOL])}; check the optimizer constraints"
        )
    w = long_only(proposed.astype(float))
    reasons: list[str] = []
    var_in = portfolio_var(w, returns, confidence)
    w, notes = cap_positions(w, max_position)
    reasons += notes
    if sectors and sector_limits:
        w, notes = cap_sectors(w, sectors, sector_limits)
        reasons += notes
        w, notes = cap_positions(w, max_position)
        reasons += notes
    gross = float(w.abs().sum())
    if gross > max_leverage + TOL:
        w = w * (max_leverage / gross)
        reasons.append(
            f"gross exposure {gross:.2%} scaled to the {max_leverage:.2%} leverage limit")
    if esg_scores is not None:
        w, notes = meet_esg(w, esg_scores, min_esg, esg_excluded)
        reasons += notes
    var_w = portfolio_var(w, returns, confidence)
    details = {"var_limit": var_limit, "confidence": confidence}
    if var_w < var_limit:
        alpha = var_limit / var_w
        invested = float(w.sum()) * alpha
        if invested < min_invested - TOL:
            current_var = portfolio_var(current, returns, confidence)
            return CheckResult(
                current, "refused",
                (*reasons, f"post-trade VaR {var_w:.2%} is beyond the {var_limit:.2%} limit and "
                 f"meeting it would leave only {invested:.0%} invested (minimum "
                 f"{min_invested:.0%}); trade list refused, holdings kept"),
                var_in, current_var, details,
            )
        w = w * alpha
        reasons.append(
            f"post-trade VaR {var_w:.2%} was beyond the {var_limit:.2%} limit: equities scaled "
            f"to {invested:.0%} of the portfolio, the rest in cash"
        )
        var_w = portfolio_var(w, returns, confidence)
    status = "resized" if reasons else "ok"
    return CheckResult(w, status, tuple(reasons), var_in, var_w, details)
