"""The autonomous manager: regime-adaptive targets, triggers, risk checks and override, tax
lots and harvesting, share orders, and one explanation record per decision.

Each call to :meth:`Autopilot.decide` is handed closes up to the decision date only and the
engine's book (cash, shares, the fills since the last call, value, the engine's costs and
order sizing), so its drifted weights, drawdown and realised gains are the engine's own. It
keeps only what the engine does not (tax lots from the book's fills, daily values, the last
target, the override and regime filter) in one frozen
:class:`~autoport.autopilot.state.AutopilotState`: :meth:`Autopilot.step` maps a state and
today's inputs to a decision and the next state, and ``decide`` advances the one it holds.
Files and models (alert rules, ESG scores, sector map, regime map and detector, DQN policy)
are read once, by :meth:`Autopilot.prepare`. The record's orders are the ones the engine's order sizing
(:func:`autoport.engines.orders.size`) makes of its target, and the weights it returns are the
holdings after them, so the engine executes exactly those orders.

Decision flow: settle the previous orders → tax year-end → regime (configs/regime.yaml's
detector, filtered, then the regime map's hysteresis: :mod:`autoport.autopilot.regimes`) →
normal target (the regime map's objective on its estimation window with its cash share, under
the map's cap per asset intersected with the user's position limit, the stricter winning, and
the user's sector limits; ``regime_map`` in the record says which part came from where) →
override state (defensive allocation; its conditions are checked on every session since the
last decision, entry and restore need them held for a stated number of sessions:
:mod:`autoport.autopilot.override`) → triggers and the cost-benefit gate → tax-loss harvesting →
pre-trade risk checks (positions, sectors, leverage, ESG, VaR: resize or refuse) → share
orders. ``Decision.details`` holds the structured record;
:func:`autoport.autopilot.explain.explain` renders it in sentences.

Taxes are computed, not withdrawn: the engine's account stays pre-tax. The running
``tax_status`` in each record (:func:`autoport.autopilot.tax.after_tax`, with the year-end
tax and carryforward of :func:`~autoport.autopilot.tax.close_tax_year`) and the run's report
(:mod:`autoport.autopilot.aftertax`, the
same treatment for 1/N) take each year's tax out of the pre-tax returns as a withdrawal.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from autoport import data as data_mod
from autoport import estimators, portfolio
from autoport.autopilot import override as ov
from autoport.autopilot import record as rec
from autoport.autopilot import harvest, regimes, risk_checks, tax, trades, triggers
from autoport.autopilot.settings import AutopilotSettings, EsgSettings, merged_settings
from autoport.autopilot.state import AutopilotState, ValueTrail
from autoport.errors import ConfigError, DataError, OptimizationError
from autoport.optimize import Constraints, Objective, risk_aversion_from_tolerance
from autoport.optimize.capping import cap_and_renormalise
from autoport.risk import load_alert_rules
from autoport.decision import Book, Decision
from autoport.engines import orders as sizing

UTILITY_OBJECTIVES = ("max_utility", "mean_cvar")


def _alert_defaults(s: AutopilotSettings) -> dict[str, float]:
    rules = load_alert_rules(s.alerts).rules
    out = {"drawdown_limit": -0.10, "rearm": -0.05, "max_weight": 0.10, "confidence": 0.95}
    for r in rules:
        if r.metric == "drawdown" and r.limit is not None:
            out["drawdown_limit"] = r.limit
            out["rearm"] = r.rearm if r.rearm is not None else r.limit / 2
        elif r.metric == "max_weight" and r.limit is not None:
            out["max_weight"] = r.limit
        elif r.metric == "var_breach":
            out["confidence"] = r.confidence
    return out


def _esg_scores() -> dict[str, float]:
    text = resources.files("autoport.datasets").joinpath("esg_scores_ILLUSTRATIVE.csv")
    with text.open("r") as fh:
        frame = pd.read_csv(fh, comment="#")
    return dict(zip(frame["ticker"], frame["esg_score"].astype(float), strict=True))



def _simple_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """``prices.pct_change().iloc[1:]``, the same numbers (``p_t / p_(t-1) - 1``) without
    pandas' fill pass and alignment: the autopilot's windows have no gaps (pandas otherwise)."""
    x = prices.to_numpy(dtype=float)
    if not np.isfinite(x).all():
        return prices.pct_change().iloc[1:]
    # row-major, as pandas' own result: a product with it (VaR's x @ w) rounds as before
    rets = np.ascontiguousarray(x[1:] / x[:-1] - 1.0)
    return pd.DataFrame(rets, index=prices.index[1:], columns=prices.columns, copy=False)


def _has_gap(history: pd.DataFrame) -> bool:
    """``history.isna().to_numpy().any()``, on the float array when every column is float
    (no boolean frame over the whole, growing history)."""
    if len(history.columns) and all(dt == np.float64 for dt in history.dtypes):
        return bool(np.isnan(history.to_numpy()).any())
    return bool(history.isna().to_numpy().any())


def _after(frame: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """``frame.loc[frame.index > day]``: a binary search on the (sorted) sessions."""
    if frame.index.is_monotonic_increasing:
        return frame.iloc[frame.index.searchsorted(day, side="right"):]
    return frame.loc[frame.index > day]


def _positions(index: pd.Index, keys: pd.Index) -> np.ndarray:
    """``index.get_indexer(keys)`` (-1 where a key is absent) by binary search when both
    are sessions of one dtype and ``index`` strictly increases: the regime path grows
    with the run, and get_indexer would build its hash table over all of it each time."""
    if not (isinstance(index, pd.DatetimeIndex) and isinstance(keys, pd.DatetimeIndex)
            and index.dtype == keys.dtype and len(index)):
        return index.get_indexer(keys)
    v, k = index.asi8, keys.asi8
    if not (v[1:] > v[:-1]).all():
        return index.get_indexer(keys)
    at = np.searchsorted(v, k)
    inside = at < len(v)
    found = np.zeros(len(k), dtype=bool)
    found[inside] = v[at[inside]] == k[inside]
    return np.where(found, at, -1).astype(np.intp)


def _aligned(weights: pd.Series, index: pd.Index) -> np.ndarray:
    """``weights.reindex(index, fill_value=0.0).to_numpy(dtype=float)``, without the
    reindex when the labels already match."""
    if weights.index.equals(index):
        return weights.to_numpy(dtype=float)
    return weights.reindex(index, fill_value=0.0).to_numpy(dtype=float)


def _put(record: dict, key: str, entry: dict | None) -> None:
    """Add a step's part of the record; a step with nothing to say adds no key."""
    if entry is not None:
        record[key] = entry


# One decision's intermediate results, passed from step to step of ``Autopilot.decide``.
@dataclass(frozen=True)
class _Today:
    """The book at today's close and the estimates on the trailing ``settings.window``."""

    today: pd.Timestamp
    tickers: pd.Index
    book: Book  # the engine's account at today's close
    closes: pd.DataFrame  # since the last decision; today's row is the engine's marks
    prices: pd.Series  # today's close, as the engine marks it
    elapsed: int  # sessions since the last decision (0 on the first)
    value: float  # the book's value (currency)
    current: pd.Series  # the book's drifted weights
    window: pd.DataFrame  # closes, settings.window + 1 sessions
    rets: pd.DataFrame  # daily returns on ``window``
    mu: pd.Series  # expected annual returns on ``window``
    cov: pd.DataFrame  # annual Ledoit-Wolf covariance on ``window``
    blocked: list[str]  # sold at a loss within wash_days: not to be bought back


@dataclass(frozen=True)
class _Normal:
    """The regime and the target without override, and what it was made from."""

    regime: str | None  # acted on (after hysteresis); None without a detector or history
    confidence: float | None
    probabilities: dict
    view: regimes.RegimeView | None
    policy: regimes.Policy
    cap: float  # the stricter of the map's cap and the user's position limit
    cap_used: float  # ``cap``, raised when it cannot hold a full budget of the free assets
    cons: Constraints
    tol: float  # risk tolerance used
    objective: str
    weights: pd.Series
    notes: list[str]


@dataclass(frozen=True)
class _Risk:
    """Risk state at today's close, before the override steps."""

    var: float  # one-day VaR (a return) of the current weights
    var_of_normal: float  # the same for the normal target
    drawdown: float  # from the book's peak
    drift: triggers.Drift | None  # from the last target (None before the first)


@dataclass(frozen=True)
class _Gate:
    fired: list[str]  # the triggers, in order
    trade: bool  # move to the target
    cb: triggers.CostBenefit | None  # the cost-benefit test, when one was needed


@dataclass(frozen=True)
class _Execution:
    action: str  # hold, refused, initial, rebalance, harvest, override_enter, override_restore
    orders: list[trades.Order]
    check: risk_checks.CheckResult | None
    weights: pd.Series  # what the engine is given: the holdings after the orders
    notes: list[str]


@dataclass(frozen=True)
class Prepared:
    """What :meth:`Autopilot.prepare` loads once: the alert rules' defaults filled into the
    limits, the ESG scores, the sector map, the regime map and detector, the DQN policy."""

    confidence: float  # VaR confidence
    drawdown_limit: float
    max_position: float
    rules: ov.OverrideRules
    esg_scores: dict[str, float] | None
    sectors: dict[str, str]  # ticker -> sector (the user's, else the bundled map)
    regime_map: dict[str, regimes.Policy]
    detector: regimes.AutopilotRegimes | None  # unfitted: each run starts from a copy
    dqn: Any  # a DQNPolicy proposing the normal target, or None
    min_history: int


class Autopilot:
    """The engine-facing strategy: ``decide(history, book)`` advances :attr:`state` by one
    :meth:`step`. The constructor stores settings only; files and models are read by
    :meth:`prepare` (called by the first ``decide`` or ``min_history`` when not before)."""

    name = "autopilot"
    # on a ragged panel (late listings, delistings) the regime detector and the DQN read the
    # whole market (:meth:`step`); the autopilot's own targets hold the assets with its
    # longest estimation window of prices (:meth:`investable`)
    reads_ragged_history = True

    def __init__(self, settings: Any = None, **fields: Any) -> None:
        self.settings = s = merged_settings(settings, **fields)
        self.esg: EsgSettings | None = (
            EsgSettings() if s.esg_constraints is True else (s.esg_constraints or None)
        )
        self._ready: Prepared | None = None
        self.state: AutopilotState | None = None  # None: the next decision starts a run
        # warm starts of the exact solves (they change the time, not the answers) and the
        # current decision's window estimates: caches of what was seen, not state
        self._solver = portfolio.LimitsSolver()
        self._window_estimates: dict = {}
        self._made_limits: dict = {}  # _limits' constraint sets (settings are not changed)

    def prepare(self) -> Prepared:
        """Load the alert rules, ESG scores, sector map, regime map and detector and the DQN
        model, once; the only place the autopilot reads files or models."""
        if self._ready is not None:
            return self._ready
        s = self.settings
        alert = _alert_defaults(s)
        drawdown_limit = s.max_drawdown_limit or alert["drawdown_limit"]
        rules = ov.OverrideRules(
            var_limit=s.var_limit, drawdown_limit=drawdown_limit,
            restore_drawdown=s.override.restore_drawdown or alert["rearm"],
            bear_signal=s.override.bear_signal,
            bear_confidence=s.override.bear_confidence,
            restore_bear_confidence=s.override.restore_bear_confidence,
            restore_var_ratio=s.override.restore_var_ratio,
            enter_sessions=s.override.enter_sessions,
            restore_sessions=s.override.restore_sessions,
            min_defensive_sessions=s.override.min_defensive_sessions,
        )
        min_history = s.window + 1
        dqn = None
        if s.dqn_model_uri:
            from autoport.strategies.dqn import DQNPolicy

            dqn = DQNPolicy(model_uri=s.dqn_model_uri)
            min_history = max(min_history, dqn.min_history)
        regime_file = regimes._regime_config()  # read once, for the map and the detector
        self._ready = Prepared(
            confidence=s.var_confidence or alert["confidence"],
            drawdown_limit=drawdown_limit,
            max_position=s.max_position or alert["max_weight"],
            rules=rules,
            esg_scores=(self.esg.scores or _esg_scores()) if self.esg else None,
            sectors=dict(s.sectors) if s.sectors is not None else data_mod.sector_map(),
            regime_map=regimes.regime_map(s.regime, regime_file),
            detector=(regimes.AutopilotRegimes(s.regime, regime_file) if s.regime.enabled
                      else None),
            dqn=dqn, min_history=min_history)
        return self._ready

    @property
    def min_history(self) -> int:
        return self.prepare().min_history

    def investable(self, history: pd.DataFrame, book: Book | None
                   ) -> tuple[pd.DataFrame, Book | None]:
        """On a ragged panel, the history the autopilot's own steps read: the assets priced on
        each session of its longest estimation window (its own, the regime map's, the DQN's)
        up to the decision, on the rows they all share, and the book over them (a holding
        left out, delisted, is sold at its last price, as ``decision.decide_investable``
        does for other strategies). A complete panel and its book as they are."""
        if not _has_gap(history):
            return history, book
        p = self.prepare()
        need = max([p.min_history, *(pol.window + 1 for pol in p.regime_map.values())])
        cols = data_mod.investable(history, need)
        if not cols:
            raise DataError(f"no asset has {need} sessions of prices up to "
                            f"{history.index[-1].date()}; start later (--start)")
        sub = history[cols]
        sub = sub.iloc[-int(sub.notna().all(axis=1)[::-1].cumprod().sum()):]
        if book is not None:
            book = replace(book, shares=book.shares.reindex(cols, fill_value=0.0),
                           prices=book.prices.reindex(cols))
        return sub, book

    def initial_state(self) -> AutopilotState:
        """The state before a run's first decision."""
        p, s = self.prepare(), self.settings
        return AutopilotState(
            taxbook=tax.TaxBook(wash_days=s.tax.wash_days, lot_method=s.tax.lot_method),
            regimes=copy.deepcopy(p.detector))

    def reset(self) -> None:
        """Forget the run: the next decision starts a new one."""
        self.state = None

    # ------------------------------------------------------------------ helpers
    def _sector_map(self, tickers) -> dict[str, str]:
        known = self._ready.sectors
        return {t: known.get(t, t) for t in tickers}

    def _limits(self, tickers, blocked: list[str], cap: float
                ) -> tuple[Constraints, list[str], float]:
        """:meth:`_constraints`, made once per (tickers, blocked names, cap): a function of
        those and the settings only, and the same object lets the solver reuse its arrays."""
        key = (tuple(tickers), tuple(blocked), cap)
        if key not in self._made_limits:
            self._made_limits[key] = self._constraints(tickers, blocked, cap)
        cons, notes, cap_used = self._made_limits[key]
        return cons, list(notes), cap_used

    def _constraints(self, tickers, blocked: list[str], cap: float
                     ) -> tuple[Constraints, list[str], float]:
        """The optimizer's limits, notes, and the position cap used (raised when ``cap``
        cannot hold a full budget of the assets not blocked)."""
        s, notes = self.settings, []
        n = len(tickers)
        free = n - len(blocked)
        if cap * free < 1.0:
            wanted = cap
            cap = min(1.0, 1.0 / max(free, 1) + 1e-6)
            notes.append(f"position limit {wanted:.0%} cannot hold {free} assets to "
                         f"a full budget; using {cap:.2%}")
        sectors = self._sector_map(tickers)
        limits = {}
        if s.max_sector is not None:
            limits = {g: s.max_sector for g in set(sectors.values())}
        limits.update(s.sector_limits)
        # a limit the sector's members cannot fill is dropped rather than made infeasible
        sizes = pd.Series(sectors).value_counts()
        if limits and sum(min(limits.get(g, 1.0), cap * k) for g, k in sizes.items()) < 1.0:
            notes.append("sector limits cannot hold a full budget with these assets; ignored")
            limits = {}
        upper = {t: (0.0 if t in blocked else cap) for t in tickers}
        esg_kwargs = {}
        if self.esg is not None:
            scores = self._ready.esg_scores
            missing = [t for t in tickers if t not in scores]
            if missing:
                raise ConfigError(f"esg_constraints: no ESG score for {', '.join(missing)}; "
                                  "add them under esg_constraints.scores")
            esg_kwargs = {"esg_scores": scores, "min_esg": self.esg.min_score}
            upper.update({t: 0.0 for t in self._esg_excluded(tickers)})
        return Constraints(lower=0.0, upper=upper, groups=sectors, group_max=limits,
                           **esg_kwargs), notes, cap

    def _esg_excluded(self, tickers) -> list[str]:
        if self.esg is None or self.esg.exclude_below is None:
            return []
        return [t for t in tickers if self._ready.esg_scores[t] < self.esg.exclude_below]

    def _esg_check(self, tickers) -> dict:
        """The ESG limits as the pre-trade check takes them (none when ESG is off)."""
        if self.esg is None:
            return {}
        return {"esg_scores": self._ready.esg_scores, "min_esg": self.esg.min_score,
                "esg_excluded": self._esg_excluded(tickers)}

    def _esg_substitute(self, ticker: str, candidate: str, excluded: list[str]) -> bool:
        """A harvest substitute may not be excluded nor lower the portfolio's ESG average
        below the floor by itself: it scores at least the floor or at least ``ticker``."""
        if self.esg is None:
            return True
        scores = self._ready.esg_scores
        score = scores[candidate]
        return candidate not in excluded and (
            score >= self.esg.min_score or score >= scores[ticker])

    def _tolerance(self, regime: str | None) -> float:
        s = self.settings
        scale = s.regime.tolerance_scale.get(regime, 1.0) if regime else 1.0
        horizon = min(1.0, s.investment_horizon / 5.0)
        return float(np.clip(s.risk_tolerance * scale * horizon, 0.0, 1.0))

    def _solve(self, window: pd.DataFrame, objective: str, cons: Constraints, tol: float,
               cap: float):
        if Objective.parse(objective) is Objective.RISK_PARITY:
            return self._risk_parity(window, cons, cap)
        if objective in UTILITY_OBJECTIVES:
            return portfolio.solve(window, objective=objective, constraints=cons,
                                   risk_tolerance=tol)
        # max Sharpe and min variance: the exact KKT point (else the conic solve)
        return self._solver(window, objective, cons, self._estimates(window))

    def _estimates(self, window: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
        """(μ, Σ) of a complete window as arrays, once per window in a decision (the
        estimation window and the VaR window are usually the same rows); None with gaps."""
        key = (window.index[0], window.index[-1], len(window), tuple(window.columns))
        if key not in self._window_estimates:
            values = np.ascontiguousarray(window.to_numpy(dtype=float))
            ok = len(values) >= 3 and np.isfinite(values).all() and (values > 0).all()
            self._window_estimates[key] = (estimators.window_estimates(values) if ok
                                           else None)
        return self._window_estimates[key]

    def _risk_parity(self, window: pd.DataFrame, cons: Constraints, cap: float):
        """Equal risk contributions, which the optimizer solves only without limits: solved
        long-only and fully invested, then names the limits shut (wash-sale blocks, ESG
        exclusions) are dropped, the rest renormalised and capped at the position and sector
        limits. When the ESG floor is then missed, min variance under every limit
        is held instead, and the note says so."""
        sol = portfolio.solve(window, objective="risk_parity", constraints=Constraints())
        upper = cons.upper if isinstance(cons.upper, dict) else {}
        shut = [t for t in sol.weights.index if upper.get(t, 1.0) <= 0.0]
        w, capped = cap_and_renormalise(sol.weights, cap, shut=shut, groups=cons.groups,
                                        group_max=cons.group_max)
        note = ("risk parity solved without limits"
                + (f", {', '.join(shut)} left out" if shut else "")
                + (f", then {'; '.join(capped)}" if capped else ""))
        if cons.min_esg is not None and cons.esg_scores is not None:
            score = float(sum(w[t] * cons.esg_scores[t] for t in w.index))
            if score < cons.min_esg - 1e-9:
                alt = self._solver(window, "min_variance", cons, self._estimates(window))
                return replace(alt, note=(f"risk parity's ESG score {score:.1f} is below the "
                                          f"{cons.min_esg:.1f} floor; held min variance under "
                                          "the limits instead"))
        return replace(sol, weights=w, note=note)

    def _regime(self, st: AutopilotState, history: pd.DataFrame):
        """(acted-on regime, its filtered probability, today's probabilities, the view, the
        state with the regime filter advanced to ``history``'s last row)."""
        if st.regimes is None:
            return None, None, {}, None, st
        detector = copy.deepcopy(st.regimes)  # the filter advances on a copy
        view = detector.view(history)
        st = replace(st, regimes=detector)
        if view is None:
            return None, None, {"note": f"regime detector waits for "
                                        f"{detector.min_history} sessions, have "
                                        f"{len(history)}"}, None, st
        return view.acted, view.probabilities[view.acted], view.probabilities, view, st

    def _policy(self, regime: str | None) -> regimes.Policy:
        if regime is None:
            return regimes.Policy(None, "max_sharpe", None, self.settings.window, 0.0,
                                  {"objective": "no regime yet", "window": "your settings"})
        return self._ready.regime_map[regime]

    def _map_record(self, policy: regimes.Policy, cap: float, tol: float) -> dict:
        """What the normal target took from the regime map and what from the user."""
        s = self.settings
        src = policy.source
        from_map = src.get("objective") == "configs/regime.yaml"
        max_position = self._ready.max_position
        cap_from = ("the regime map" if policy.max_weight is not None
                    and policy.max_weight < max_position else "your position limit")
        return {
            "regime": policy.regime,
            "objective": policy.objective, "objective_from": src.get("objective"),
            "window": policy.window, "window_from": src.get("window"),
            "cash": policy.cash, "cash_from": src.get("cash"),
            "map_max_weight": policy.max_weight, "user_max_position": max_position,
            "position_cap_used": cap, "position_cap_from": cap_from,
            "sector_limits_from": "your settings (max_sector, sector_limits)",
            "risk_tolerance": s.risk_tolerance, "risk_tolerance_used": tol,
            "summary": (
                (f"regime {policy.regime}: from the regime map"
                 f"{' (configs/regime.yaml)' if from_map else ''} objective "
                 f"{policy.objective}, {policy.window}-session estimation window, "
                 f"{policy.cash:.0%} cash, cap "
                 + (f"{policy.max_weight:.0%}" if policy.max_weight is not None else "none")
                 if policy.regime else "no regime yet: max Sharpe on your window")
                + f"; from your settings: position limit {max_position:.0%}, sector "
                f"limits, risk tolerance {s.risk_tolerance:.2f} (used {tol:.2f}); the "
                f"stricter cap wins: {cap:.0%} ({cap_from})"),
        }

    def _override_days(self, st: AutopilotState, history, closes, held, normal, view, n
                       ) -> list[ov.OverrideInputs]:
        """The override's inputs on each of the last ``n`` sessions (oldest first): VaR of
        the current holdings and of today's normal target on the window ending that
        session, the drawdown then, and the regime then."""
        s, p = self.settings, self._ready
        # a ragged panel's history starts when its newest asset got the window, which may be
        # after the last decision: those sessions only (never binds on a complete panel)
        n = min(n, len(st.values), max(len(history) - s.window - 1, 1))
        prices = history.iloc[-(s.window + n + 1):]
        tail = _simple_returns(prices)
        cols = history.columns
        held = _aligned(held, cols)
        target = _aligned(normal, cols)
        lookback = max(s.override.min_defensive_sessions, 5)
        # the values the last n sessions' drawdowns read, as floats: vals[k] is the
        # trail's value first + k
        amounts = getattr(st.values, "amounts", None)
        if amounts is None:
            amounts = np.array([v for _, v in st.values], dtype=float)
        first = max(0, len(amounts) - n - lookback)
        vals = amounts[first:].tolist()
        # each session's closes (the engine's marks where it gave them) and regime, as arrays
        # (history's last n rows: those of its last window + n + 1 rows, n <= len(history))
        days = prices.index[-n:]
        px = prices.to_numpy(dtype=float)[-n:].copy()
        at = _positions(closes.index, days)
        marks = closes if closes.columns.equals(cols) else closes.reindex(columns=cols)
        px[at >= 0] = marks.to_numpy(dtype=float)[at[at >= 0]]
        if view is not None:
            path_index, acted_path = view.path.index, view.acted_path
            on = _positions(path_index, days)
            probs, names = view.path.to_numpy(dtype=float), list(view.path.columns)
            acted = (acted_path.to_numpy() if acted_path.index.equals(path_index)
                     else acted_path.reindex(path_index).to_numpy())
        # the holdings' value weights each session (0 without value: no VaR), row j the
        # numbers of held * px[j] / v
        worth = amounts[len(amounts) - n:]
        valued = worth > 0
        books = held * px / np.where(valued, worth, 1.0)[:, None]
        books[~valued] = 0.0
        windows, rest = [], []
        for j, e in enumerate(range(n - 1, -1, -1)):  # e sessions before today
            windows.append((max(0, len(tail) - s.window - e), len(tail) - e))
            i = len(amounts) - 1 - e
            v = vals[i - first]
            dd = v / st.peaks[i] - 1.0
            recent = v / max(vals[max(0, i - lookback + 1) - first: i + 1 - first]) - 1.0
            regime = conf = None
            if view is not None and on[j] >= 0:
                row = probs[on[j]]
                regime = (str(acted[on[j]]) if p.rules.bear_signal == "acted"
                          else str(names[int(np.argmax(row))]))
                conf = float(row[names.index(regime)])
            rest.append((v, dd, recent, regime, conf))
        # VaR of the holdings and of the normal target on the window ending each session
        found = risk_checks.window_vars(tail, windows * 2, [*books, *[target] * n],
                                        p.confidence)
        var_books, var_norms = found[:n], found[n:]
        out = []
        for (v, dd, recent, regime, conf), var_book, var_norm in zip(
                rest, var_books, var_norms, strict=True):
            out.append(ov.OverrideInputs(var_book if v else 0.0, var_norm, dd, recent,
                                         regime, conf))
        return out

    def _sync_values(self, st: AutopilotState, closes: pd.DataFrame, book: Book
                     ) -> AutopilotState:
        """Daily book values since the last decision (the book changed only by the fills on
        the session after it); peaks for the drawdown rules."""
        start = st.last_date
        seg = _after(closes, start) if start is not None else closes.iloc[-1:]
        held = book.shares.reindex(closes.columns, fill_value=0.0).to_numpy(dtype=float)
        # each row's sum over its own contiguous memory: the numbers of (held * row).sum()
        worth = (np.ascontiguousarray(seg.to_numpy(dtype=float)) * held).sum(axis=1)
        values, peak, peaks = [], st.peak, []
        for day, w in zip(seg.index, worth, strict=True):
            v = float(book.cash + w)
            values.append((day, v))
            peak = max(peak, v)
            peaks.append(peak)
        trail = st.values if isinstance(st.values, ValueTrail) else ValueTrail(st.values)
        return replace(st, values=trail.extend(values), peak=peak, peaks=(*st.peaks, *peaks))

    # ------------------------------------------------------------------ the decision
    def decide(self, history: pd.DataFrame, book: Book | None = None) -> Decision:
        """The engine's call: one :meth:`step` from the current state, which it replaces."""
        decision, self.state = self.step(self.state, history, book)
        return decision

    def step(self, state: AutopilotState | None, history: pd.DataFrame,
             book: Book | None = None) -> tuple[Decision, AutopilotState]:
        """One decision on closes up to today and the engine's book (None: a fresh account
        of 1.0 in cash), in the order of the module's decision flow, from ``state`` (None, or
        a date not after its last decision: a new run); returns the decision and the next
        state. ``state`` is left as it was."""
        self.prepare()
        self._window_estimates = {}
        s = self.settings
        today = history.index[-1]
        if state is None or state.last_date is not None and today <= state.last_date:
            state = self.initial_state()  # a new run from the start
        # the regime detector and the DQN read the whole (possibly ragged) market
        market, market_book = history, book
        history, book = self.investable(history, book)
        if book is None:
            book = Book.all_cash(history.iloc[-1])
        if market is history:
            market_book = book
        st = state
        if st.capital is None:
            st = replace(st, capital=book.value, peak=book.value)
        record: dict[str, Any] = {}
        closes, elapsed = self._closes_since_last(st, history, book)
        settled, st = self._settle(st, book)
        _put(record, "previous_execution", settled)
        st = self._sync_values(st, closes, book)
        st, year_end = tax.close_tax_year(st, today, s.tax)
        _put(record, "tax_year_end", year_end)
        now = self._today(st, history, closes, elapsed, book)
        normal, st = self._normal_target(st, history, now, market, market_book)
        risk = self._risk_state(st, now, normal)
        event, override, st = self._step_override(st, history, now, normal)
        _put(record, "override", override)
        target, rule, defensive_notes = self._target(st, now, normal)
        gate, st = self._gate(st, now, normal, risk, target, event, override)
        base, harvests, tax_notes, st = self._tax_edits(st, now, normal,
                                                        target if gate.trade else now.current)
        done, st = self._execute(st, now, normal, base, target, gate.trade, harvests, event)
        notes = normal.notes + defensive_notes + tax_notes + done.notes
        record.update(self._record(st, now, normal, risk, rule, gate, done, harvests, notes))
        st = replace(st, last_date=today)
        reason = rec.reason(done.action, gate.fired, rule=rule, cb=gate.cb, check=done.check,
                            harvests=harvests)
        return (Decision(today, done.weights.reindex(now.tickers, fill_value=0.0), reason,
                         record), st)

    def _closes_since_last(self, st: AutopilotState, history: pd.DataFrame, book: Book
                           ) -> tuple[pd.DataFrame, int]:
        """The closes since the last decision, today's as the engine marks them (today's
        alone on the first decision), and how many sessions have passed (0 on the first)."""
        recent = _after(history, st.last_date) if st.last_date is not None \
            else history.iloc[-1:]
        # the numbers of recent.astype(float) with its last row set to the marks
        x = recent.to_numpy(dtype=float, copy=True)
        x[-1] = book.prices.reindex(recent.columns).to_numpy(dtype=float)
        closes = pd.DataFrame(x, index=recent.index, columns=recent.columns, copy=False)
        return closes, (len(recent) if st.last_date is not None else 0)

    def _settle(self, st: AutopilotState, book: Book) -> tuple[dict | None, AutopilotState]:
        """1. The fills the engine reports since the last decision, into (a copy of) the tax
        lots; the record's ``previous_execution`` (None when nothing filled)."""
        fills = [trades.Fill(f.ticker, trades.whole(f.shares),
                             st.ordered.get(f.ticker, f.price), f.price, f.commission)
                 for f in book.fills]
        st = replace(st, ordered={})
        if not fills:
            return None, st
        fill_day = book.fills[0].date
        taxbook = st.taxbook.copy()
        for f, raw in zip(fills, book.fills, strict=True):
            if f.shares > 0:
                taxbook.buy(f.ticker, f.shares, f.fill_price, raw.date)
            else:
                taxbook.sell(f.ticker, -f.shares, f.fill_price, raw.date)
        return ({"filled": fill_day, **trades.shortfall_summary(fills)},
                replace(st, taxbook=taxbook))

    def _today(self, st: AutopilotState, history: pd.DataFrame, closes: pd.DataFrame,
               elapsed: int, book: Book) -> _Today:
        """3a. The book at today's close and the estimates on the trailing window."""
        s = self.settings
        today, tickers = history.index[-1], history.columns
        prices = closes.iloc[-1]
        window = history.iloc[-(s.window + 1):]
        return _Today(
            today=today, tickers=tickers, book=book, closes=closes, prices=prices,
            elapsed=elapsed, value=book.value,
            current=book.weights.reindex(tickers, fill_value=0.0),
            window=window, rets=_simple_returns(window),
            **self._today_estimates(window),
            blocked=sorted(set(tickers) & st.taxbook.loss_sold_tickers(today)),
        )

    def _today_estimates(self, window: pd.DataFrame) -> dict:
        """``mu`` and ``cov`` of :class:`_Today`: from the arrays of :meth:`_estimates` (the
        numbers of the pandas estimators, to rounding), or those estimators on a gappy window."""
        found = self._estimates(window)
        if found is None:
            return {"mu": estimators.mean_return(window),
                    "cov": estimators.ledoit_wolf_cov(window)}
        mu, cov = found
        cols = window.columns
        return {"mu": pd.Series(mu, index=cols),
                "cov": pd.DataFrame(cov, index=cols, columns=cols)}

    def _normal_target(self, st: AutopilotState, history: pd.DataFrame, now: _Today,
                       market: pd.DataFrame, market_book: Book
                       ) -> tuple[_Normal, AutopilotState]:
        """3b. The regime and the target without override: the regime map's policy under the
        stricter of its cap and the user's position limit, and the user's other limits.
        ``market`` and ``market_book``: the whole history and book (``history`` and
        ``now.book`` unless the panel is ragged), which the detector and the DQN read."""
        regime, confidence, probs, view, st = self._regime(st, market)
        policy = self._policy(regime)
        # the regime map's cap and the user's position limit: the stricter wins
        max_position = self._ready.max_position
        cap = max_position if policy.max_weight is None else min(max_position,
                                                                 policy.max_weight)
        cons, notes, cap_used = self._limits(now.tickers, now.blocked, cap)
        tol = self._tolerance(regime)
        weights, objective, more = self._solve_normal(st, history, policy, cons, tol, cap_used,
                                                      market_book, market)
        return _Normal(regime=regime, confidence=confidence, probabilities=probs, view=view,
                       policy=policy, cap=cap, cap_used=cap_used, cons=cons, tol=tol,
                       objective=objective, weights=weights, notes=notes + more), st

    def _solve_normal(self, st: AutopilotState, history: pd.DataFrame, policy: regimes.Policy,
                      cons: Constraints, tol: float, cap: float, book: Book,
                      market: pd.DataFrame | None = None) -> tuple[pd.Series, str, list[str]]:
        """The normal weights (the DQN policy's proposal when one is set, else the policy's
        objective on its window, less its cash), the objective used, and notes. When solving
        fails, the previous target (1/N at first) is kept."""
        s = self.settings
        tickers = history.columns
        objective = policy.objective
        notes: list[str] = []
        est_window = history.iloc[-(policy.window + 1):]
        try:
            if self._ready.dqn is not None:
                # the promoted policy proposes; the user's limits still apply (risk checks)
                # (on the whole market: it observes every asset it was trained on)
                proposal = self._ready.dqn.decide(history if market is None else market, book)
                normal = proposal.weights.reindex(tickers, fill_value=0.0).clip(lower=0.0)
                objective = f"dqn policy {s.dqn_model_uri}"
                notes.append(f"DQN policy: {proposal.reason}")
                outside = proposal.weights.drop(tickers, errors="ignore")
                outside = outside[outside.abs() > 1e-12]
                if len(outside):
                    notes.append(f"DQN weight on {', '.join(map(str, outside.index))} (not yet "
                                 "with the autopilot's estimation window) left in cash")
            else:
                sol = self._solve(est_window, objective, cons, tol, cap)
                normal = risk_checks.long_only(sol.weights) * (1.0 - policy.cash)
                if sol.note:
                    notes.append(sol.note)
        except OptimizationError as exc:
            normal = st.target if st.target is not None else pd.Series(
                1.0 / len(tickers), index=tickers)
            notes.append(f"{objective} failed ({exc}); kept the previous target")
        return normal, objective, notes

    def _risk_state(self, st: AutopilotState, now: _Today, normal: _Normal) -> _Risk:
        """3c. VaR of the book and of the normal target, drawdown, and drift from the target."""
        confidence = self._ready.confidence
        return _Risk(
            var=risk_checks.portfolio_var(now.current, now.rets, confidence)
            if now.value else 0.0,
            var_of_normal=risk_checks.portfolio_var(normal.weights, now.rets, confidence),
            drawdown=now.value / st.peak - 1.0,
            drift=triggers.drift(now.current, st.target) if st.target is not None else None,
        )

    def _step_override(self, st: AutopilotState, history: pd.DataFrame, now: _Today,
                       normal: _Normal) -> tuple[str | None, dict | None, AutopilotState]:
        """4. The override with hysteresis, its conditions checked on every session since the
        last decision: the event (enter, restore or None) and the record's ``override``."""
        s = self.settings
        if not (s.override.enabled and st.target is not None):
            return None, None, st
        days = self._override_days(st, history, now.closes, now.book.shares, normal.weights,
                                   normal.view, max(now.elapsed, 1))
        state, event, why = ov.step(st.override, days, self._ready.rules, today=now.today,
                                    elapsed=now.elapsed)
        st = replace(st, override=state)
        if event == "enter":
            return event, {"event": "enter", "reasons": why}, st
        if event == "restore":
            return event, {"event": "restore", "conditions_met": why}, replace(st,
                                                                               peak=now.value)
        if state.active:
            return event, {"event": "still_defensive", "blocking_restore": why}, st
        return event, None, st

    def _target(self, st: AutopilotState, now: _Today, normal: _Normal
                ) -> tuple[pd.Series, str, list[str]]:
        """The target and its rule: the defensive allocation while the override is active
        (the stricter cash share of the override's and the regime map's), else the normal
        target; notes when the defensive objective fails."""
        s = self.settings
        policy, notes = normal.policy, []
        if not st.override.active:
            rule = (f"{normal.objective} on {policy.window} sessions, cap {normal.cap:.0%}"
                    + (f", {policy.cash:.0%} cash" if policy.cash else "")
                    + f" (risk tolerance {normal.tol:.2f}"
                    + (f", regime {normal.regime})" if normal.regime else ")"))
            return normal.weights, rule, notes
        defensive_cash = max(s.override.defensive_cash, policy.cash)
        try:
            dsol = self._solve(now.window, s.override.defensive_objective, normal.cons, 0.0,
                               normal.cap_used)
            target = risk_checks.long_only(dsol.weights) * (1.0 - defensive_cash)
        except OptimizationError as exc:
            target = normal.weights / max(1.0 - policy.cash, 1e-12) * (1.0 - defensive_cash)
            notes.append(f"defensive {s.override.defensive_objective} failed ({exc}); "
                         "scaled the normal target instead")
        rule = f"defensive: {s.override.defensive_objective} with {defensive_cash:.0%} cash"
        return target, rule, notes

    def _triggers(self, st: AutopilotState, now: _Today, normal: _Normal, risk: _Risk,
                  event: str | None, override: dict | None) -> tuple[list[str], bool]:
        """5a. The triggers that fired, and whether one makes the trade mandatory (the first
        allocation, an override event, a VaR breach when the override is off)."""
        s = self.settings
        fired: list[str] = []
        mandatory = False
        if st.target is None:
            fired.append("initial allocation of the cash")
            mandatory = True
        if event is not None:
            fired.append(f"risk override {event}: " + override.get(
                "reasons", override.get("conditions_met", []))[0])
            mandatory = True
        if not s.override.enabled:
            why = triggers.risk_trigger(risk.var, s.var_limit, self._ready.confidence)
            if why:
                fired.append(why)
                mandatory = True
        if triggers.calendar_due(st.last_review, now.today, s.calendar) \
                and st.target is not None:
            fired.append(f"{s.calendar} calendar review")
        if risk.drift is not None:
            why = triggers.drift_trigger(risk.drift, s.rebalance_threshold,
                                         s.total_drift_threshold)
            if why:
                fired.append(why)
        why = triggers.regime_change(st.prev_regime, normal.regime)
        if why:
            fired.append(why)
        return fired, mandatory

    def _gate(self, st: AutopilotState, now: _Today, normal: _Normal, risk: _Risk,
              target: pd.Series, event: str | None, override: dict | None
              ) -> tuple[_Gate, AutopilotState]:
        """5b. Whether to trade toward ``target``: always on a mandatory trigger, else when
        the expected benefit beats the trading cost and the tax the sales would realise."""
        s = self.settings
        fired, mandatory = self._triggers(st, now, normal, risk, event, override)
        st = replace(st, prev_regime=normal.regime or st.prev_regime)
        delta = risk_aversion_from_tolerance(max(normal.tol, 0.0))
        cb = None
        trade = mandatory
        if fired and not mandatory:
            est_tax = (tax.estimated_tax(st.taxbook, now.current, target, now.prices, now.value,
                                         now.today, s.tax) if s.tax_optimization else 0.0)
            cb = triggers.worth_trading(now.current, target, now.mu, now.cov, risk_aversion=delta,
                                        cost_rate=now.book.costs.total_rate,
                                        horizon_sessions=s.benefit_horizon,
                                        extra_cost=est_tax)
            trade = cb.worth_it
        if fired:
            st = replace(st, last_review=now.today)
        return _Gate(fired=fired, trade=trade, cb=cb), st

    def _tax_edits(self, st: AutopilotState, now: _Today, normal: _Normal, base: pd.Series
                   ) -> tuple[pd.Series, list[tax.Harvest], list[str], AutopilotState]:
        """6. Tax-loss harvesting on top of ``base`` (the target when trading, else the
        current weights), then the wash-sale guards: the edited base, the harvests, notes."""
        s = self.settings
        harvests: list[tax.Harvest] = []
        harvested: set[str] = set()
        if s.tax_optimization and now.value > 0:
            if st.substitutes is None or now.today.month == 1 and now.elapsed:
                st = replace(st, substitutes=tax.substitute_candidates(now.rets,
                                                                       s.tax.substitutes))
            excluded = self._esg_excluded(now.tickers)
            picks = harvest.substitute_picks(
                st.substitutes, now.current, base, now.blocked, normal.cap_used,
                allowed=lambda t, c: self._esg_substitute(t, c, excluded))
            harvests = tax.harvest_candidates(
                st.taxbook, now.prices.to_dict(), now.today, picks,
                threshold=s.tax.harvest_threshold, min_value=s.tax.min_harvest_value)
            harvests = [h for h in harvests if h.substitute not in now.blocked]
            harvested = {h.ticker for h in harvests}
            base = harvest.swap_harvests(base, harvests, now.prices, now.value)
        base, notes = harvest.keep_blocked_out(base, now.current, now.blocked,
                                               s.tax.wash_days)
        if s.tax_optimization:
            base, deferred = harvest.defer_wash_sales(
                base, now.current, now.tickers, taxbook=st.taxbook, prices=now.prices,
                value=now.value, today=now.today, harvested=harvested)
            notes += deferred
        return base, harvests, notes, st

    def _execute(self, st: AutopilotState, now: _Today, normal: _Normal, base: pd.Series,
                 target: pd.Series, trade: bool, harvests: list[tax.Harvest],
                 event: str | None) -> tuple[_Execution, AutopilotState]:
        """7. Pre-trade risk checks on ``base`` (resize or refuse), then the share orders the
        engine's order sizing makes of them (they fill at the next close); the engine is given
        the holdings after those orders as weights, which its sizing leaves as they are."""
        s = self.settings
        book = now.book
        action = "hold"
        orders: list[trades.Order] = []
        check = None
        notes: list[str] = []
        if trade or harvests:
            check = risk_checks.pre_trade_check(
                base, now.current, now.rets, max_position=normal.cap_used,
                sectors=self._sector_map(now.tickers), sector_limits=normal.cons.group_max,
                max_leverage=s.max_leverage, var_limit=s.var_limit,
                confidence=self._ready.confidence, **self._esg_check(now.tickers))
            if check.status == "refused":
                action = "refused"
            else:
                if now.blocked:
                    # the checks spread capped weight pro rata; none may buy a blocked ticker
                    allowed = check.weights.copy()
                    for t in now.blocked:
                        allowed[t] = min(allowed.get(t, 0.0), now.current.get(t, 0.0))
                    check = replace(check, weights=allowed)
                new_shares, notes = sizing.size(
                    check.weights, book.shares, now.prices, book.cash, costs=book.costs,
                    sizing=book.sizing)
                orders = trades.orders_between(book.shares, new_shares, now.prices, now.value,
                                               book.costs, whole_shares=book.whole_shares)
                if orders:
                    action = ("initial" if st.target is None else
                              f"override_{event}" if event else
                              "rebalance" if trade else "harvest")
                if trade:
                    st = replace(st, target=target.reindex(now.tickers, fill_value=0.0))
        if action in ("hold", "refused") or not orders:
            new_shares = book.shares.reindex(now.tickers, fill_value=0.0)
            orders = []
        weights = (trades.holding_weights(new_shares, now.prices, now.value) if now.value > 0
                   else now.current)
        st = replace(st, ordered={o.ticker: o.price for o in orders})
        return _Execution(action=action, orders=orders, check=check, weights=weights,
                          notes=list(notes)), st

    def _record(self, st: AutopilotState, now: _Today, normal: _Normal, risk: _Risk, rule: str,
                gate: _Gate, done: _Execution, harvests: list[tax.Harvest], notes: list[str]
                ) -> dict:
        """8. The rest of the decision record (after ``previous_execution``, ``tax_year_end``
        and ``override``), ending with the running after-tax status."""
        s, p = self.settings, self._ready
        d = risk.drift
        inputs = {
            "regime": normal.regime, "regime_confidence": normal.confidence,
            "regime_probabilities": normal.probabilities,
            "regime_filtered": normal.view.raw if normal.view else None,
            "var": risk.var, "var_of_normal_target": risk.var_of_normal,
            "var_limit": s.var_limit, "var_confidence": p.confidence,
            "drawdown": risk.drawdown, "drawdown_limit": p.drawdown_limit,
            "portfolio_value": now.value,
            "drift_max": d.max_abs if d else None, "drift_asset": d.asset if d else None,
            "drift_total": d.total if d else None,
            "rebalance_threshold": s.rebalance_threshold, "risk_tolerance_used": normal.tol,
            "wash_sale_blocked": now.blocked,
        }
        out: dict[str, Any] = {
            "action": done.action,
            "trigger": gate.fired,
            "inputs": inputs,
            "rule": rule,
            "objective": (s.override.defensive_objective if st.override.active
                          else normal.objective),
            "regime_map": self._map_record(normal.policy, normal.cap, normal.tol),
            "trades": rec.trade_rows(done.orders, harvests, done.check, trade=gate.trade,
                                     rule=rule, triggers=rec.trigger_text(gate.fired)),
            "expected_effect": rec.expected_effect(
                now.current, done.weights, now.tickers, now.mu, now.cov, now.rets,
                var_before=risk.var, confidence=p.confidence),
            "notes": notes,
        }
        if gate.cb is not None:
            out["cost_benefit"] = rec.cost_benefit(gate.cb)
        if done.check is not None:
            out["risk_check"] = rec.risk_check(done.check)
        if harvests:
            out["harvests"] = [h.__dict__ for h in harvests]
        # running after-tax vs pre-tax, so the last line of the log reports the whole run
        out["tax_status"] = {**tax.after_tax(st, s.tax), **tax.tax_summary(st)}
        return out

    # ------------------------------------------------------------------ reporting
    def after_tax(self) -> dict:
        """Pre- and after-tax return of the run so far (:func:`tax.after_tax`)."""
        return tax.after_tax(self.state or self.initial_state(), self.settings.tax)

    def tax_summary(self) -> dict:
        """Realised gains by term, taxes paid and the carryforward (:func:`tax.tax_summary`)."""
        return tax.tax_summary(self.state or self.initial_state())
