"""The autopilot backtest's report: key decisions in sentences, attribution against 1/N with
turnover, costs and taxes as drags, and pre- and after-tax returns of the autopilot and of 1/N
under the same tax treatment (:mod:`autoport.autopilot.aftertax`).

Builds values from a finished backtest; the CLI writes them. Nothing here prints or writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autoport.autopilot import aftertax, attribution, explain
from autoport.autopilot.settings import AutopilotSettings, merged_settings


@dataclass(frozen=True)
class Report:
    decisions_md: str
    attribution: dict
    after_tax: dict  # {"method", rates, "strategy": {...}, "baseline": {...}}
    after_tax_returns: pd.DataFrame  # daily, columns strategy and baseline names


def settings_of(config: Any) -> AutopilotSettings:
    """The autopilot settings a backtest config hands the strategy."""
    args = dict(config.strategy_arguments())
    return merged_settings(args.pop("settings", None), **args)


def trading_costs(transactions: pd.DataFrame, prices: pd.DataFrame, commission_bps: float
                  ) -> tuple[float, float]:
    """Traded value and costs (commission plus slippage against that session's close)."""
    if transactions is None or len(transactions) == 0:
        return 0.0, 0.0
    days = pd.DatetimeIndex(transactions.index)
    closes = prices.stack().reindex(list(zip(days, transactions["symbol"], strict=True)))
    amount = transactions["amount"].astype(float).abs().to_numpy()
    fill = transactions["price"].astype(float).to_numpy()
    traded = float((amount * fill).sum())
    slippage = float(np.abs(amount * (fill - closes.to_numpy(float))).sum())
    return traded, traded * commission_bps / 1e4 + slippage


def build(outcome: Any, prices: pd.DataFrame, sectors: Mapping[str, str],
          records: list[dict] | None = None) -> Report:
    """The report of an autopilot ``BacktestOutcome`` (``records``: its decision records as
    plain JSON values, default the outcome's own)."""
    s = settings_of(outcome.config)
    run, base = outcome.strategy, outcome.baseline
    taxes, series = aftertax.compare(
        {"strategy": (run.returns, run.transactions), "baseline": (base.returns,
                                                                    base.transactions)},
        capital=outcome.config.capital, short_rate=s.tax.short_term_rate,
        long_rate=s.tax.long_term_rate, wash_days=s.tax.wash_days, lot_method=s.tax.lot_method)
    taxes["strategy_name"], taxes["baseline_name"] = run.name, f"1/N ({base.name})"
    series.columns = [run.name, f"baseline_{base.name}"]
    traded, costs = trading_costs(run.transactions, prices,
                                  outcome.config.costs.commission_bps)
    summary = attribution.summary(
        run.positions, prices, sectors, engine_returns=run.returns,
        transactions=run.transactions, commission_bps=outcome.config.costs.commission_bps,
        traded_value=traded, costs=costs, taxes=taxes["strategy"]["taxes_paid"],
        after_tax_return=taxes["strategy"]["after_tax_return"])
    recs = records if records is not None else run.records
    text = explain.render(recs)
    md = (f"# Key autopilot decisions, {outcome.start.date()} to {outcome.end.date()}\n\n"
          f"{text}\n\n{tax_section(taxes)}\n")
    return Report(md, summary, taxes, series)


def tax_section(taxes: dict) -> str:
    """Pre- and after-tax returns of the autopilot and 1/N, and how they were computed."""
    rows = ["## Pre-tax and after-tax returns", "",
            "| | total pre-tax | total after-tax | annual pre-tax | annual after-tax "
            "| taxes paid (share of starting capital) |", "|---|---:|---:|---:|---:|---:|"]
    for key, name in (("strategy", taxes["strategy_name"]), ("baseline", taxes["baseline_name"])):
        f = taxes[key]
        rows.append(f"| {name} | {f['pre_tax_return']:.2%} | {f['after_tax_return']:.2%} | "
                    f"{f['pre_tax_annual_return']:.2%} | {f['after_tax_annual_return']:.2%} | "
                    f"{f['taxes_paid']:,.0f} ({f['taxes_paid_share']:.2%} of capital) |")
    rows += ["", f"How: {taxes['method']}."]
    return "\n".join(rows)
