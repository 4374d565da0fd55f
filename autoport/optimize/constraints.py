"""Portfolio constraints: what a user states, the arrays it resolves to, and why it may not hold.

A :class:`Constraints` is stated in tickers and fractions of the budget. :func:`resolve` turns it
into arrays over a given ticker order, refusing unknown names. :func:`check_simple` finds the
conflicts visible without a solver (bounds that cannot add to the budget, sector limits beyond
what their members' bounds allow) and names them. :func:`build` makes the cvxpy constraints, in
named groups, so that :func:`diagnose` can find an irreducible conflicting subset when a solver
says infeasible.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

import numpy as np

from autoport.errors import ConfigError, InfeasibleError

if TYPE_CHECKING:  # cvxpy is imported where a problem is built (configs read this module)
    import cvxpy as cp

CONCENTRATION_WARNING = 0.10  # the mission's concentration alert: one position above 10 %
# The one default cap per asset for long-only objectives: `autoport optimize`, the backtest's
# and the regime strategy's MPT step. Uncapped max Sharpe puts 74% of the bundled data in one
# stock; 0.25 keeps at least four names. Raised to 1/n when there are fewer than four assets.
DEFAULT_MAX_WEIGHT = 0.25


@dataclass(frozen=True)
class Constraints:
    """Limits on the weights, as fractions of the budget (1 = the whole portfolio).

    ``lower``/``upper`` are one bound for every asset or a ticker → bound mapping (missing
    tickers keep the default ``0`` / ``1``: long-only); ``None`` means unbounded (shorts).
    ``max_position`` caps ``|w_i|`` for every asset. ``groups`` maps ticker → sector or asset
    class, with ``group_min``/``group_max`` per group. ``exclude`` forces weights to zero.
    ``esg_scores`` with ``min_esg`` asks the weighted average score to reach ``min_esg``.
    ``current_weights`` with ``max_turnover`` caps ``Σ|w − w₀|``; ``transaction_cost`` (one
    rate, or per ticker) charges ``c·|w − w₀|`` against expected return in objectives that have
    one. ``max_leverage`` caps gross exposure ``Σ|w|``.
    """

    lower: float | None | Mapping[str, float | None] = 0.0
    upper: float | None | Mapping[str, float | None] = 1.0
    max_position: float | None = None
    groups: Mapping[str, str] | None = None
    group_min: Mapping[str, float] = field(default_factory=dict)
    group_max: Mapping[str, float] = field(default_factory=dict)
    exclude: Sequence[str] = ()
    esg_scores: Mapping[str, float] | None = None
    min_esg: float | None = None
    current_weights: Mapping[str, float] | None = None
    max_turnover: float | None = None
    transaction_cost: float | Mapping[str, float] = 0.0
    max_leverage: float | None = None
    budget: float = 1.0
    concentration_warning: float = CONCENTRATION_WARNING


@dataclass(frozen=True)
class Resolved:
    """Constraints as arrays over ``tickers`` (internal)."""

    tickers: tuple[str, ...]
    lb: np.ndarray  # -inf where unbounded
    ub: np.ndarray  # +inf where unbounded
    group_names: tuple[str, ...]
    membership: np.ndarray  # (n_groups, n) 0/1
    group_min: np.ndarray  # nan where absent
    group_max: np.ndarray
    esg: np.ndarray | None
    min_esg: float | None
    w0: np.ndarray
    max_turnover: float | None
    cost: np.ndarray
    max_leverage: float | None
    budget: float
    concentration_warning: float
    excluded: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.tickers)

    @property
    def has_costs(self) -> bool:
        return bool(np.any(self.cost > 0))


def _per_asset(
    value: float | None | Mapping[str, float | None], tickers: Sequence[str], default: float,
    what: str,
) -> np.ndarray:
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(tickers))
        if unknown:
            raise ConfigError(f"{what} names unknown ticker(s) {', '.join(unknown)}")
        out = np.full(len(tickers), default, dtype=float)
        for i, t in enumerate(tickers):
            if t in value:
                v = value[t]
                out[i] = np.nan if v is None else float(v)
        return out
    if value is None:
        return np.full(len(tickers), np.nan)
    return np.full(len(tickers), float(value))


def resolve(constraints: Constraints | None, tickers: Sequence[str]) -> Resolved:
    """Arrays over ``tickers``; unknown tickers or groups raise ``ConfigError`` by name."""
    c = constraints or Constraints()
    tickers = tuple(str(t) for t in tickers)
    n = len(tickers)
    lb = _per_asset(c.lower, tickers, 0.0, "lower bounds")
    ub = _per_asset(c.upper, tickers, 1.0, "upper bounds")
    lb = np.where(np.isnan(lb), -np.inf, lb)
    ub = np.where(np.isnan(ub), np.inf, ub)
    if c.max_position is not None:
        if c.max_position <= 0:
            raise ConfigError(f"max_position must be positive, got {c.max_position}")
        ub = np.minimum(ub, c.max_position)
        lb = np.maximum(lb, -c.max_position)
    unknown = sorted(set(c.exclude) - set(tickers))
    if unknown:
        raise ConfigError(f"exclusion list names unknown ticker(s) {', '.join(unknown)}")
    for t in c.exclude:
        i = tickers.index(t)
        if lb[i] > 0:
            raise InfeasibleError(
                f"{t} is excluded but has a lower bound {lb[i]:g}; drop one of the two"
            )
        lb[i] = 0.0
        ub[i] = 0.0

    names: list[str] = []
    membership = np.zeros((0, n))
    if c.group_min or c.group_max:
        if not c.groups:
            raise ConfigError(
                "sector/asset-class limits were given without a ticker → group map; pass groups "
                "(for the bundled data, autoport.data.sector_map())"
            )
    if c.groups:
        names = sorted({c.groups[t] for t in tickers if t in c.groups})
        limited = set(c.group_min) | set(c.group_max)
        unknown_groups = sorted(limited - set(names))
        if unknown_groups:
            raise ConfigError(
                f"limits name group(s) {', '.join(unknown_groups)} that hold none of the assets; "
                f"known groups: {', '.join(names)}"
            )
        membership = np.array(
            [[1.0 if c.groups.get(t) == g else 0.0 for t in tickers] for g in names]
        ).reshape(len(names), n)
    gmin = np.array([c.group_min.get(g, np.nan) for g in names], dtype=float)
    gmax = np.array([c.group_max.get(g, np.nan) for g in names], dtype=float)

    esg = None
    if c.min_esg is not None:
        if c.esg_scores is None:
            raise ConfigError("min_esg needs ESG scores: pass esg_scores (ticker → score)")
        missing = [t for t in tickers if t not in c.esg_scores]
        if missing:
            raise ConfigError(
                f"ESG scores missing for {', '.join(missing)}; add them to the scores file or "
                "exclude those tickers"
            )
        esg = np.array([float(c.esg_scores[t]) for t in tickers])

    w0 = np.zeros(n)
    if c.current_weights is not None:
        unknown = sorted(set(c.current_weights) - set(tickers))
        if unknown:
            raise ConfigError(f"current weights name unknown ticker(s) {', '.join(unknown)}")
        w0 = np.array([float(c.current_weights.get(t, 0.0)) for t in tickers])
    if c.max_turnover is not None and c.max_turnover < 0:
        raise ConfigError(f"max_turnover must be ≥ 0, got {c.max_turnover}")
    cost = _per_asset(c.transaction_cost, tickers, 0.0, "transaction costs")
    cost = np.nan_to_num(cost)
    if np.any(cost < 0):
        raise ConfigError("transaction costs must be ≥ 0")
    if c.max_leverage is not None and c.max_leverage <= 0:
        raise ConfigError(f"max_leverage must be positive, got {c.max_leverage}")
    return Resolved(
        tickers, lb, ub, tuple(names), membership, gmin, gmax, esg, c.min_esg, w0,
        c.max_turnover, cost, c.max_leverage, float(c.budget), c.concentration_warning,
        tuple(c.exclude),
    )


def check_simple(r: Resolved, *, budget: bool = True) -> None:
    """Raise ``InfeasibleError`` for conflicts visible from the numbers alone, naming them."""
    bad = np.where(r.lb > r.ub + 1e-12)[0]
    if len(bad):
        i = bad[0]
        raise InfeasibleError(
            f"{r.tickers[i]}: lower bound {r.lb[i]:g} is above upper bound {r.ub[i]:g}; "
            "make the lower bound at most the upper bound (max_position and exclusions lower "
            "the upper bound)"
        )
    if budget:
        if r.lb.sum() > r.budget + 1e-9:
            raise InfeasibleError(
                f"the per-asset lower bounds sum to {r.lb.sum():.4g}, above the budget "
                f"{r.budget:g}: lower some minimum weights"
            )
        if r.ub.sum() < r.budget - 1e-9:
            n_open = int(np.sum(r.ub > 0))
            hint = (
                f"; with {n_open} investable assets max_position must be at least "
                f"{r.budget / max(n_open, 1):.4g}" if n_open else ""
            )
            raise InfeasibleError(
                f"the per-asset upper bounds (position caps and exclusions) sum to "
                f"{r.ub.sum():.4g}, below the budget {r.budget:g}: the weights cannot add up"
                f"{hint}"
            )
    for k, g in enumerate(r.group_names):
        members = r.membership[k] > 0
        lo, hi = r.group_min[k], r.group_max[k]
        cap = r.ub[members].sum()
        floor = r.lb[members].sum()
        if not np.isnan(lo) and not np.isnan(hi) and lo > hi + 1e-12:
            raise InfeasibleError(f"group {g}: minimum {lo:g} is above maximum {hi:g}")
        if not np.isnan(lo) and lo > cap + 1e-9:
            raise InfeasibleError(
                f"group {g} minimum {lo:g} is above what its assets may hold: their upper "
                f"bounds (max_position, exclusions) sum to {cap:.4g}; lower the group minimum "
                "or raise the caps"
            )
        if not np.isnan(hi) and hi < floor - 1e-9:
            raise InfeasibleError(
                f"group {g} maximum {hi:g} is below its assets' lower bounds, which sum to "
                f"{floor:.4g}"
            )
    if budget and len(r.group_names):
        disjoint_mins = np.nansum(r.group_min)
        if disjoint_mins > r.budget + 1e-9:
            raise InfeasibleError(
                f"group minimums sum to {disjoint_mins:.4g}, above the budget {r.budget:g}: "
                + ", ".join(
                    f"{g} ≥ {v:g}" for g, v in zip(r.group_names, r.group_min, strict=True)
                    if not np.isnan(v)
                )
            )
        # an asset outside every group can take the rest; otherwise the maxima must reach 1
        ungrouped_cap = r.ub[r.membership.sum(0) == 0].sum()
        group_caps = np.where(np.isnan(r.group_max), r.membership @ r.ub, r.group_max)
        reachable = float(np.sum(np.minimum(group_caps, r.membership @ r.ub))) + ungrouped_cap
        if reachable < r.budget - 1e-9:
            capped = [
                f"{g} ≤ {v:g}" for g, v in zip(r.group_names, r.group_max, strict=True)
                if not np.isnan(v)
            ]
            raise InfeasibleError(
                f"group maximums ({', '.join(capped)}) with the position caps let at most "
                f"{reachable:.4g} be invested, below the budget {r.budget:g}: raise some group "
                "maximums"
            )
    if r.min_esg is not None and r.esg is not None:
        best = _best_linear(r.esg, r)
        if best is not None and best < r.min_esg - 1e-9:
            raise InfeasibleError(
                f"minimum ESG score {r.min_esg:g} is out of reach: the best score any portfolio "
                f"within the position bounds reaches is {best:.4g}; lower min_esg or loosen "
                "the bounds / exclusions"
            )


def _best_linear(score: np.ndarray, r: Resolved) -> float | None:
    """max scoreᵀw over the box and the budget (greedy fill), or None if unbounded."""
    if not np.all(np.isfinite(r.lb)) or not np.all(np.isfinite(r.ub)):
        return None
    w = r.lb.copy()
    left = r.budget - w.sum()
    for i in np.argsort(score)[::-1]:
        take = min(r.ub[i] - r.lb[i], left)
        w[i] += take
        left -= take
        if left <= 0:
            break
    return float(score @ w)


Group = tuple[str, list]


def build(
    w: cp.Variable | cp.Expression, r: Resolved, scale: cp.Expression | float = 1.0,
    *, budget: bool = True,
) -> list[Group]:
    """Named groups of cvxpy constraints on ``w``; ``scale`` homogenises them (max Sharpe).

    With ``scale = κ`` every right-hand side is multiplied by κ, so that ``y = κ w`` satisfies
    the scaled set exactly when ``w`` satisfies the original one.
    """
    import cvxpy as cp

    groups: list[Group] = []
    lo = np.isfinite(r.lb)
    hi = np.isfinite(r.ub)
    bounds = []
    if lo.any():
        bounds.append(w[lo] >= r.lb[lo] * scale)
    if hi.any():
        bounds.append(w[hi] <= r.ub[hi] * scale)
    if bounds:
        groups.append(("per-asset bounds (long-only / max_position / exclusions)", bounds))
    if budget:
        groups.append((f"budget: weights sum to {r.budget:g}", [cp.sum(w) == r.budget * scale]))
    for k, g in enumerate(r.group_names):
        row = r.membership[k]
        if not np.isnan(r.group_min[k]):
            groups.append((f"group {g} ≥ {r.group_min[k]:g}", [row @ w >= r.group_min[k] * scale]))
        if not np.isnan(r.group_max[k]):
            groups.append((f"group {g} ≤ {r.group_max[k]:g}", [row @ w <= r.group_max[k] * scale]))
    if r.esg is not None and r.min_esg is not None:
        groups.append((
            f"minimum ESG score {r.min_esg:g}",
            [r.esg @ w >= r.min_esg * cp.sum(w)],
        ))
    if r.max_turnover is not None:
        groups.append((
            f"turnover ≤ {r.max_turnover:g} against current weights",
            [cp.norm1(w - r.w0 * scale) <= r.max_turnover * scale],
        ))
    if r.max_leverage is not None:
        groups.append((
            f"gross exposure ≤ {r.max_leverage:g}", [cp.norm1(w) <= r.max_leverage * scale]
        ))
    return groups


def flatten(groups: list[Group]) -> list:
    return [c for _, cons in groups for c in cons]


def cost_term(w: cp.Expression, r: Resolved, scale: cp.Expression | float = 1.0):
    """Linear transaction cost ``c·|w − w₀|`` (0 when no costs)."""
    import cvxpy as cp

    if not r.has_costs:
        return 0.0
    return r.cost @ cp.abs(w - r.w0 * scale)


def diagnose(
    make_groups: Callable[[cp.Variable], list[Group]], n: int, solve: Callable[[cp.Problem], str]
) -> list[str]:
    """Names of an irreducible subset of constraint groups that cannot hold together.

    Deletion filter: drop each group in turn and keep it dropped if the rest stays infeasible;
    what survives conflicts as a whole, and removing any one of its groups makes it feasible.
    """
    import cvxpy as cp

    w = cp.Variable(n)
    groups = make_groups(w)

    def feasible(subset: list[Group]) -> bool:
        status = solve(cp.Problem(cp.Minimize(0), flatten(subset)))
        return status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)

    if feasible(groups):
        return []
    keep = list(groups)
    for group in list(groups):
        trial = [g for g in keep if g is not group]
        if not feasible(trial):
            keep = trial
    return [name for name, _ in keep]
