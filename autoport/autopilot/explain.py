"""Plain sentences from the autopilot's decision records (the ``decisions.jsonl`` lines).

A reader must be able to answer "why did it sell X on that day?": :func:`why_trade` finds
the record and the trade and says it; :func:`explain` renders one record;
:func:`key_decisions` keeps the ones worth reading (trades, overrides, harvests, refusals).
Pure string functions: no printing, no files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

KEY_ACTIONS = ("initial", "rebalance", "override_enter", "override_restore", "harvest", "refused")


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.2%}"


def _date(record: Mapping) -> str:
    d = record.get("date")
    return str(d)[:10] if d is not None else "?"


def _inputs_sentence(inputs: Mapping) -> str:
    parts = []
    if inputs.get("regime"):
        parts.append(f"the regime was {inputs['regime']} "
                     f"({_pct(inputs.get('regime_confidence'))} confidence)")
    if inputs.get("var") is not None:
        parts.append(f"one-day {inputs.get('var_confidence', 0.95):.0%} VaR was "
                     f"{_pct(inputs['var'])} against a {_pct(inputs.get('var_limit'))} limit")
    if inputs.get("drawdown") is not None:
        parts.append(f"drawdown {_pct(inputs['drawdown'])} "
                     f"(limit {_pct(inputs.get('drawdown_limit'))})")
    if inputs.get("drift_max") is not None:
        parts.append(f"largest drift {_pct(inputs['drift_max'])} in {inputs.get('drift_asset')} "
                     f"(threshold {_pct(inputs.get('rebalance_threshold'))})")
    return "; ".join(parts)


def explain(record: Mapping) -> list[str]:
    """Sentences for one decision record: what, why, with which inputs, to what effect."""
    action = record.get("action", "hold")
    day = _date(record)
    triggers = record.get("trigger") or []
    why = "; ".join(triggers) if triggers else "no trigger fired"
    out = []
    if action == "hold":
        line = f"On {day} the autopilot held the portfolio: {why}."
        cb = record.get("cost_benefit")
        if cb and not cb.get("trade", True):
            line += (f" Rebalancing was expected to gain {_pct(cb['benefit'])} but cost "
                     f"{_pct(cb['cost'])}, so it did not trade.")
        out.append(line)
    elif action == "refused":
        rc = record.get("risk_check", {})
        out.append(f"On {day} a trade list was refused by the pre-trade checks: "
                   f"{(rc.get('reasons') or ['limit breach'])[-1]}.")
    else:
        verb = {
            "initial": "invested the cash",
            "rebalance": "rebalanced",
            "override_enter": "switched to the defensive allocation",
            "override_restore": "restored the normal allocation",
            "harvest": "harvested tax losses",
        }.get(action, action)
        out.append(f"On {day} the autopilot {verb} because {why}. "
                   f"Target rule: {record.get('rule', 'n/a')}.")
    ctx = _inputs_sentence(record.get("inputs", {}))
    if ctx:
        out.append(f"Inputs: {ctx}.")
    ov = record.get("override") or {}
    if ov.get("event") == "still_defensive" and ov.get("blocking_restore"):
        out.append("Still defensive because " + "; ".join(ov["blocking_restore"]) + ".")
    rc = record.get("risk_check") or {}
    if rc.get("status") == "resized":
        out.append("Pre-trade checks resized the trades: " + "; ".join(rc["reasons"]) + ".")
    for t in record.get("trades", []):
        out.append(
            f"{'Bought' if t['side'] == 'buy' else 'Sold'} {abs(t['shares']):,} {t['ticker']} "
            f"at {t['price']:.2f} ({_pct(t['weight_before'])} -> {_pct(t['weight_after'])} "
            f"of the portfolio): {t.get('why', '')}."
        )
    eff = record.get("expected_effect")
    if eff and record.get("trades"):
        out.append(
            f"Expected effect: annual return {_pct(eff['expected_return_before'])} -> "
            f"{_pct(eff['expected_return_after'])}, volatility "
            f"{_pct(eff['volatility_before'])} -> {_pct(eff['volatility_after'])}, one-day VaR "
            f"{_pct(eff['var_before'])} -> {_pct(eff['var_after'])}."
        )
    tye = record.get("tax_year_end")
    if tye:
        out.append(f"Tax for {tye['years']}: {tye['tax']:,.0f} on net short-term "
                   f"{tye['net_short_term']:,.0f} and long-term {tye['net_long_term']:,.0f}; "
                   f"loss carried forward {tye['carryforward_loss']:,.0f}.")
    return out


def key_decisions(records: Iterable[Mapping]) -> list[Mapping]:
    return [r for r in records if r.get("action") in KEY_ACTIONS]


VERBS = {
    "initial": "invested the cash",
    "rebalance": "rebalanced",
    "override_enter": "switched to the defensive allocation",
    "override_restore": "restored the normal allocation",
    "harvest": "harvested tax losses",
    "refused": "refused a trade list",
    "hold": "held",
}


def trade_line(t: Mapping, *, with_reason: bool) -> str:
    """One trade as a list item: side, shares, ticker, price, weight before -> after."""
    verb = "bought" if t["side"] == "buy" else "sold"
    line = (f"- {verb} {abs(t['shares']):,} {t['ticker']} at {t['price']:.2f} "
            f"({_pct(t['weight_before'])} -> {_pct(t['weight_after'])})")
    return line + (f": {t.get('why', '')}" if with_reason else "")


def render_record(record: Mapping) -> str:
    """One decision in Markdown, said once: a heading (date and what it did), why, the
    inputs, what came from the regime map and from the user's settings, the expected effect,
    then its trades listed under it. Trades toward the target share the decision's reason;
    harvests, substitutes and limit trades carry their own."""
    action = record.get("action", "hold")
    triggers = record.get("trigger") or []
    why = "; ".join(triggers) if triggers else "no trigger fired"
    lines = [f"### {_date(record)}: {VERBS.get(action, action)}", ""]
    if action == "refused":
        rc = record.get("risk_check", {})
        lines.append(f"Why: {why}; refused by the pre-trade checks: "
                     f"{(rc.get('reasons') or ['limit breach'])[-1]}.")
    else:
        lines.append(f"Why: {why}. Target rule: {record.get('rule', 'n/a')}.")
    cb = record.get("cost_benefit")
    if action == "hold" and cb and not cb.get("trade", True):
        lines.append(f"Rebalancing was expected to gain {_pct(cb['benefit'])} but cost "
                     f"{_pct(cb['cost'])}, so it did not trade.")
    ov = record.get("override") or {}
    if ov.get("event") == "still_defensive" and ov.get("blocking_restore"):
        lines.append("Still defensive because " + "; ".join(ov["blocking_restore"]) + ".")
    if ov.get("event") == "restore" and ov.get("conditions_met"):
        lines.append("Restored because " + "; ".join(ov["conditions_met"]) + ".")
    ctx = _inputs_sentence(record.get("inputs", {}))
    if ctx:
        lines.append(f"Inputs: {ctx}.")
    rm = record.get("regime_map") or {}
    if rm.get("summary"):
        lines.append(f"Normal target's constraint set: {rm['summary']}.")
    rc = record.get("risk_check") or {}
    if rc.get("status") == "resized":
        lines.append("Pre-trade checks resized the trades: " + "; ".join(rc["reasons"]) + ".")
    eff = record.get("expected_effect")
    trades = record.get("trades") or []
    if eff and trades:
        lines.append(
            f"Expected effect: annual return {_pct(eff['expected_return_before'])} -> "
            f"{_pct(eff['expected_return_after'])}, volatility "
            f"{_pct(eff['volatility_before'])} -> {_pct(eff['volatility_after'])}, one-day VaR "
            f"{_pct(eff['var_before'])} -> {_pct(eff['var_after'])}.")
    tye = record.get("tax_year_end")
    if tye:
        lines.append(f"Tax for {tye['years']}: {tye['tax']:,.0f} on net short-term "
                     f"{tye['net_short_term']:,.0f} and long-term {tye['net_long_term']:,.0f}; "
                     f"loss carried forward {tye['carryforward_loss']:,.0f}.")
    own = [t for t in trades if t.get("reason", "target") != "target"]
    toward = [t for t in trades if t.get("reason", "target") == "target"]
    if toward:
        lines += ["", f"Trades toward the target, for the reason above "
                      f"({len(toward)}, filled at the next session's close):"]
        lines += [trade_line(t, with_reason=False) for t in toward]
    if own:
        lines += ["", "Trades with their own reason:"]
        lines += [trade_line(t, with_reason=True) for t in own]
    return "\n".join(lines)


def render(records: Iterable[Mapping], *, key_only: bool = True) -> str:
    """One Markdown section per (key) decision, its trades listed under it."""
    chosen = key_decisions(records) if key_only else list(records)
    return "\n\n".join(render_record(r) for r in chosen)


def why_trade(records: Iterable[Mapping], ticker: str, date: str) -> str:
    """Answer "why did it trade ``ticker`` on ``date``?" from the records.

    ``date`` is the decision date or the fill date (the next session): the latest decision on
    or before ``date`` that traded ``ticker`` answers.
    """
    best = None
    for r in records:
        if _date(r) <= date and any(t["ticker"] == ticker for t in r.get("trades", [])):
            best = r
    if best is None:
        return f"no decision on or before {date} traded {ticker}"
    trade = next(t for t in best["trades"] if t["ticker"] == ticker)
    verb = "bought" if trade["side"] == "buy" else "sold"
    return (f"On {_date(best)} the autopilot {verb} {abs(trade['shares']):,} {ticker}: "
            f"{trade.get('why', '')}. " + " ".join(explain(best)[1:2]))
