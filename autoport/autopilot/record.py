"""The derived parts of one autopilot decision record: why each order, the expected effect,
and the one-line reason.

The autopilot decides; these functions only say what it decided, so the wording of
``decisions.jsonl`` lives in one place (:mod:`autoport.autopilot.explain` renders the whole
record in sentences). Pure: no state, no printing, no files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from autoport.autopilot.risk_checks import CheckResult, portfolio_var
from autoport.autopilot.tax import Harvest
from autoport.autopilot.trades import Order
from autoport.autopilot.triggers import CostBenefit


def trigger_text(fired: Sequence[str]) -> str:
    """The triggers that fired, as one clause."""
    return "; ".join(fired) if fired else "no trigger fired"


def trade_rows(
    orders: Sequence[Order],
    harvests: Sequence[Harvest],
    check: CheckResult | None,
    *,
    trade: bool,
    rule: str,
    triggers: str,
) -> list[dict]:
    """Each order as a record row with its ``reason`` (harvest, substitute, target, limits or
    harvest_cash) and a sentence saying ``why``. ``triggers`` is :func:`trigger_text`."""
    harvested = {h.ticker: h for h in harvests}
    subs = {h.substitute: h for h in harvests}
    rows = []
    for o in orders:
        row = o.as_dict()
        if o.ticker in harvested and o.shares < 0:
            h = harvested[o.ticker]
            row["reason"] = "harvest"
            row["why"] = (f"tax-loss harvest: realise a {h.loss_fraction:.1%} loss "
                          f"({h.loss:,.0f}) and buy {h.substitute} to keep the exposure")
        elif o.ticker in subs and o.shares > 0:
            row["reason"] = "substitute"
            row["why"] = f"substitute for harvested {subs[o.ticker].ticker}"
        elif trade:
            row["reason"] = "target"
            row["why"] = (f"{o.side} toward the {rule} target because {triggers}")
        else:
            limits = [r for r in (check.reasons if check else ()) if o.ticker in r]
            row["reason"] = "limits" if limits else "harvest_cash"
            row["why"] = (f"{o.side} to respect the pre-trade limits: " + "; ".join(limits)
                          if limits else f"{o.side} to re-balance the cash freed or used "
                          "by the harvest within the pre-trade limits")
        rows.append(row)
    return rows


def expected_effect(
    current: pd.Series,
    weights: pd.Series,
    tickers: pd.Index,
    mu: pd.Series,
    cov: pd.DataFrame,
    rets: pd.DataFrame,
    *,
    var_before: float,
    confidence: float,
) -> dict:
    """Expected annual return and volatility under the decision's own estimates (``mu``,
    ``cov``), and the one-day VaR on the trailing daily ``rets``, before and after."""
    w_new = weights.reindex(tickers, fill_value=0.0).to_numpy()
    w_old = current.reindex(tickers, fill_value=0.0).to_numpy()
    sig = cov.to_numpy()
    return {
        "expected_return_before": float(w_old @ mu.to_numpy()),
        "expected_return_after": float(w_new @ mu.to_numpy()),
        "volatility_before": float(np.sqrt(max(w_old @ sig @ w_old, 0.0))),
        "volatility_after": float(np.sqrt(max(w_new @ sig @ w_new, 0.0))),
        "var_before": var_before,
        "var_after": portfolio_var(weights, rets, confidence),
    }


def reason(
    action: str,
    fired: Sequence[str],
    *,
    rule: str,
    cb: CostBenefit | None,
    check: CheckResult | None,
    harvests: Sequence[Harvest],
) -> str:
    """The decision in one line: the action, what triggered it, and for a hold the cost that
    outweighed the benefit."""
    triggers = trigger_text(fired)
    if action == "hold":
        return f"hold: {triggers}" + (
            f"; expected benefit {cb.benefit:.4%} below cost {cb.cost:.4%}"
            if cb is not None and not cb.worth_it else "")
    if action == "refused":
        return f"trade refused by the pre-trade checks: {check.reasons[-1]}"
    if action == "harvest":
        return "harvest: " + "; ".join(
            f"sold {h.ticker} at a {h.loss_fraction:.1%} loss into {h.substitute}"
            for h in harvests) + (f" ({triggers})" if fired else "")
    return f"{action}: {triggers}; target rule {rule}"


def cost_benefit(cb: CostBenefit) -> dict:
    """The cost-benefit gate's figures as the record holds them."""
    return {"benefit": cb.benefit, "cost": cb.cost, "tracking_error": cb.tracking_error,
            "utility_gain": cb.utility_gain, "trade": cb.worth_it}


def risk_check(check: CheckResult) -> dict:
    """The pre-trade check's verdict as the record holds it."""
    return {"status": check.status, "reasons": list(check.reasons),
            "var_proposed": check.var_before, "var_allowed": check.var_after}
