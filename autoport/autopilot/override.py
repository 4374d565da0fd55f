"""Risk override: a defensive allocation when risk passes its limits, restored with hysteresis.

The conditions are evaluated on every session, not only on decision dates: a decision is
handed the inputs of the sessions since the last one (:class:`OverrideInputs`, oldest first)
and the state carries the streaks across decisions.

Enter when one reason has held on each of the last ``enter_sessions`` sessions (default 1):

- the current holdings' one-day VaR is beyond ``var_limit`` (the alert rule ``var_breach``);
- the drawdown from the running peak is below ``max_drawdown_limit`` (the ``drawdown`` rule);
- the regime is bear: by default (``bear_signal: filtered``) the shared detector's filtered
  bear probability is at least ``bear_confidence``; with ``bear_signal: acted`` the regime
  acted on after configs/regime.yaml's hysteresis is bear.

Restore when every condition below has held on each of the last ``restore_sessions``
sessions (default 1) and at least ``min_defensive_sessions`` (default 21) have passed since
entry:

- the regime is not bear (filtered bear probability below ``restore_bear_confidence``; or the
  acted-on regime is not bear);
- the *normal* target's VaR is within ``restore_var_ratio`` of the limit;
- the drawdown from the highest value of the last ``min_defensive_sessions`` sessions is above
  ``restore_drawdown`` (the drawdown rule's ``rearm`` level): no fresh fall under way.

The hysteresis is in the levels (in at the limit, out only well inside it) and in the minimum
time. The values were chosen on 1991-2006 only, among persistence requirements of 1 or 5
sessions to enter, 1 or 21 clean sessions to restore and 21 or 63 sessions minimum, with both
bear signals (configs/autopilot.yaml lists the figures): asking a breach to persist delayed
the exit from crashes and cost more than the round trips it saved, once the detector was the
shared one (whose bear state is a crash state on ~8 % of days).

After a restore the drawdown peak is reset to the current value (the rule re-arms), so the
loss that caused the override cannot trigger it again by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd

ENTRY_KINDS = ("var", "drawdown", "bear")
RESTORE_KINDS = ("regime", "var", "drawdown")


@dataclass(frozen=True)
class OverrideState:
    active: bool = False
    since: pd.Timestamp | None = None
    sessions: int = 0  # sessions spent in the current state's episode
    trigger: str = ""
    # consecutive sessions (up to the last one seen) each entry reason / restore condition held
    streaks: tuple[tuple[str, int], ...] = ()

    def streak(self, kind: str) -> int:
        return dict(self.streaks).get(kind, 0)


@dataclass(frozen=True)
class OverrideInputs:
    var: float  # current holdings' one-day VaR (a return)
    target_var: float  # the normal target's one-day VaR
    drawdown: float  # from the running peak since the last restore (<= 0)
    recent_drawdown: float  # from the highest value of the last min_defensive_sessions (<= 0)
    regime: str | None  # the regime the bear rule reads (acted on, or the filtered argmax)
    confidence: float | None  # its filtered probability


@dataclass(frozen=True)
class OverrideRules:
    var_limit: float
    drawdown_limit: float
    restore_drawdown: float
    bear_signal: str = "acted"
    bear_confidence: float = 0.9
    restore_bear_confidence: float = 0.6
    restore_var_ratio: float = 0.8
    enter_sessions: int = 5
    restore_sessions: int = 21
    min_defensive_sessions: int = 63


def _is_bear(x: OverrideInputs, rules: OverrideRules, level: float) -> bool:
    if x.regime != "bear":
        return False
    return rules.bear_signal == "acted" or (x.confidence or 0.0) >= level


def entry_conditions(x: OverrideInputs, rules: OverrideRules) -> dict[str, str]:
    """The entry reasons that hold on one session, each with its sentence."""
    out = {}
    if x.var < rules.var_limit:
        out["var"] = f"VaR {x.var:.2%} breached the {rules.var_limit:.2%} limit"
    if x.drawdown < rules.drawdown_limit:
        out["drawdown"] = (f"drawdown {x.drawdown:.2%} passed the {rules.drawdown_limit:.2%} "
                           "limit")
    if _is_bear(x, rules, rules.bear_confidence):
        out["bear"] = (
            "the regime acted on (after the regime map's hysteresis) is bear"
            + (f" ({x.confidence:.0%} filtered probability)" if x.confidence is not None else "")
            if rules.bear_signal == "acted" else
            f"the regime turned bear with {x.confidence:.0%} confidence "
            f"(threshold {rules.bear_confidence:.0%})")
    return out


def restore_conditions(x: OverrideInputs, rules: OverrideRules) -> dict[str, bool]:
    """Which restore conditions hold on one session."""
    return {
        "regime": not _is_bear(x, rules, rules.restore_bear_confidence),
        "var": x.target_var >= rules.restore_var_ratio * rules.var_limit,
        "drawdown": x.recent_drawdown >= rules.restore_drawdown,
    }


def _blocker(kind: str, x: OverrideInputs, rules: OverrideRules, streak: int) -> str:
    held = f"held {streak} of the {rules.restore_sessions} sessions needed"
    if kind == "regime":
        what = ("regime still bear" + (f" ({x.confidence:.0%})" if x.confidence is not None
                                       else "")
                if not restore_conditions(x, rules)["regime"] else "regime no longer bear")
    elif kind == "var":
        need = rules.restore_var_ratio * rules.var_limit
        what = f"normal target VaR {x.target_var:.2%} against the {need:.2%} restore level"
    else:
        what = (f"recent drawdown {x.recent_drawdown:.2%} against the "
                f"{rules.restore_drawdown:.2%} rearm level")
    return f"{what}: {held}"


def step(
    state: OverrideState, days: Sequence[OverrideInputs] | OverrideInputs, rules: OverrideRules,
    *, today: pd.Timestamp, elapsed: int | None = None,
) -> tuple[OverrideState, str | None, list[str]]:
    """Advance the override through the sessions since the previous decision.

    ``days``: one :class:`OverrideInputs` per session since the previous decision, oldest
    first, the last one today's (a single value counts as one session). ``elapsed``: sessions
    since the previous decision (default ``len(days)``), which the defensive time counts.
    Returns the new state, the event (``"enter"``, ``"restore"`` or None) and the sentences
    behind it (entry reasons, restore conditions met, or what still blocks a restore).
    """
    if isinstance(days, OverrideInputs):
        days = [days]
    if not days:
        raise ValueError("the override needs at least today's inputs")
    elapsed = len(days) if elapsed is None else elapsed
    streaks = dict(state.streaks)
    for x in days:
        holds = (set(entry_conditions(x, rules)) if not state.active else
                 {k for k, ok in restore_conditions(x, rules).items() if ok})
        kinds = ENTRY_KINDS if not state.active else RESTORE_KINDS
        streaks = {k: (streaks.get(k, 0) + 1 if k in holds else 0) for k in kinds}
    now = days[-1]
    sessions = state.sessions + elapsed
    if not state.active:
        reasons = entry_conditions(now, rules)
        ready = [f"{text} on each of the last {streaks[k]} sessions (entry needs "
                 f"{rules.enter_sessions})" for k, text in reasons.items()
                 if streaks[k] >= rules.enter_sessions]
        if ready:
            # the restore streaks start at zero on the day of entry
            return (OverrideState(True, today, 0, "; ".join(ready), ()), "enter", ready)
        return replace(state, sessions=sessions, streaks=tuple(streaks.items())), None, []
    blockers = []
    if sessions < rules.min_defensive_sessions:
        blockers.append(f"only {sessions} of the minimum {rules.min_defensive_sessions} "
                        "sessions in defensive mode")
    blockers += [_blocker(k, now, rules, streaks[k]) for k in RESTORE_KINDS
                 if streaks[k] < rules.restore_sessions]
    if not blockers:
        need = rules.restore_var_ratio * rules.var_limit
        conditions = [
            f"{sessions} sessions in defensive mode (minimum {rules.min_defensive_sessions})",
            f"on each of the last {rules.restore_sessions} sessions: the regime was not bear, "
            f"the normal target's VaR was within {need:.2%} (now {now.target_var:.2%}) and "
            f"the recent drawdown above {rules.restore_drawdown:.2%} (now "
            f"{now.recent_drawdown:.2%})",
            "regime now " + (f"{now.regime} ({now.confidence:.0%})" if now.regime
                             else "not used"),
        ]
        return OverrideState(False, today, 0, "", ()), "restore", conditions
    return replace(state, sessions=sessions, streaks=tuple(streaks.items())), None, blockers
