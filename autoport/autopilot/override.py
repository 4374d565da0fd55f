"""Risk override: a defensive allocation when risk passes its limits, restored with hysteresis.

Enter (any one):
- the current portfolio's one-day VaR is beyond ``var_limit`` (the alert rule ``var_breach``);
- the drawdown from the running peak is below ``max_drawdown_limit`` (the ``drawdown`` rule);
- the detected regime is bear with confidence at least ``bear_confidence``.

Leave (all of them, so the state does not flap around a limit):
- at least ``min_defensive_sessions`` have passed since entry;
- the regime is not bear with confidence at least ``restore_bear_confidence``;
- the *normal* target's VaR is within ``restore_var_ratio`` of the limit;
- the drawdown from the highest value of the last ``min_defensive_sessions`` sessions is above
  ``restore_drawdown`` (the drawdown rule's ``rearm`` level): no fresh fall under way.

After a restore the drawdown peak is reset to the current value (the rule re-arms), so the
loss that caused the override cannot trigger it again by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd


@dataclass(frozen=True)
class OverrideState:
    active: bool = False
    since: pd.Timestamp | None = None
    sessions: int = 0  # sessions spent in the current state's episode
    trigger: str = ""


@dataclass(frozen=True)
class OverrideInputs:
    var: float  # current portfolio's one-day VaR (a return)
    target_var: float  # the normal target's one-day VaR
    drawdown: float  # from the running peak since the last restore (<= 0)
    recent_drawdown: float  # from the highest value of the last min_defensive_sessions (<= 0)
    regime: str | None
    confidence: float | None


@dataclass(frozen=True)
class OverrideRules:
    var_limit: float
    drawdown_limit: float
    restore_drawdown: float
    bear_confidence: float = 0.9
    restore_bear_confidence: float = 0.6
    restore_var_ratio: float = 0.8
    min_defensive_sessions: int = 21


def entry_reasons(x: OverrideInputs, rules: OverrideRules) -> list[str]:
    out = []
    if x.var < rules.var_limit:
        out.append(f"VaR {x.var:.2%} breached the {rules.var_limit:.2%} limit")
    if x.drawdown < rules.drawdown_limit:
        out.append(f"drawdown {x.drawdown:.2%} passed the {rules.drawdown_limit:.2%} limit")
    if x.regime == "bear" and (x.confidence or 0.0) >= rules.bear_confidence:
        out.append(f"the regime turned bear with {x.confidence:.0%} confidence "
                   f"(threshold {rules.bear_confidence:.0%})")
    return out


def restore_blockers(x: OverrideInputs, rules: OverrideRules, sessions: int) -> list[str]:
    out = []
    if sessions < rules.min_defensive_sessions:
        out.append(f"only {sessions} of the minimum {rules.min_defensive_sessions} sessions "
                   "in defensive mode")
    if x.regime == "bear" and (x.confidence or 0.0) >= rules.restore_bear_confidence:
        out.append(f"regime still bear with {x.confidence:.0%} confidence "
                   f"(restore below {rules.restore_bear_confidence:.0%})")
    need = rules.restore_var_ratio * rules.var_limit
    if x.target_var < need:
        out.append(f"normal target VaR {x.target_var:.2%} not yet within {need:.2%}")
    if x.recent_drawdown < rules.restore_drawdown:
        out.append(f"recent drawdown {x.recent_drawdown:.2%} below the "
                   f"{rules.restore_drawdown:.2%} rearm level")
    return out


def step(
    state: OverrideState, x: OverrideInputs, rules: OverrideRules, *, today: pd.Timestamp,
    elapsed: int,
) -> tuple[OverrideState, str | None, list[str]]:
    """Advance the override by one decision.

    ``elapsed``: sessions since the previous decision. Returns the new state, the event
    (``"enter"``, ``"restore"`` or None) and the sentences behind it (entry reasons, or what
    still blocks a restore while defensive).
    """
    sessions = state.sessions + elapsed
    if not state.active:
        reasons = entry_reasons(x, rules)
        if reasons:
            return OverrideState(True, today, 0, "; ".join(reasons)), "enter", reasons
        return replace(state, sessions=sessions), None, []
    blockers = restore_blockers(x, rules, sessions)
    if not blockers:
        conditions = [
            f"{sessions} sessions in defensive mode (minimum {rules.min_defensive_sessions})",
            f"normal target VaR {x.target_var:.2%} within "
            f"{rules.restore_var_ratio * rules.var_limit:.2%}",
            f"recent drawdown {x.recent_drawdown:.2%} above {rules.restore_drawdown:.2%}",
            "regime " + (f"{x.regime} ({x.confidence:.0%})" if x.regime else "not used"),
        ]
        return OverrideState(False, today, 0, ""), "restore", conditions
    return replace(state, sessions=sessions), None, blockers
