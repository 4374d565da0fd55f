"""zipline-reloaded as the reference engine: a bundle from our panel, one run per strategy.

The bundle is named after the panel's content hash, so new data are ingested once on first use
and a changed file gets a bundle of its own. Everything lives under ``workspace.zipline_root()``.

Prices are adjusted closes, so open = high = low = close and a large constant volume keeps
zipline's volume limits from binding; costs come from :class:`CostModel`.

Timing: on each rebalance session ``t`` the strategy sees closes up to ``t`` and the book
(:class:`autoport.decision.Book`, read from ``context.portfolio`` and the ledger's
transactions), and zipline fills the orders at the close of ``t+1`` (its daily fill model), so
no decision sees its own fill price. Share counts are sized at the decision close ``t``: by
``order_target_percent`` without order rules, else by :func:`autoport.engines.orders.size`;
the difference to the fill value stays in (or is borrowed from) cash.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from autoport.decision import Book, Decision, Fill, Strategy, decide_investable
from autoport.engines import orders
from autoport.engines.costs import CostModel
from autoport.engines.simulator import REBALANCE_RULES
from autoport.engines.zipline_bundle import ensure_bundle, environ as _environ
from autoport.errors import DataError


@dataclass
class ZiplineResult:
    returns: pd.Series  # daily portfolio returns, tz-naive session index
    positions: pd.DataFrame  # pyfolio-style: dollar value per ticker plus 'cash'
    transactions: pd.DataFrame
    decisions: list[Decision]
    perf: pd.DataFrame


def align_to_calendar(prices: pd.DataFrame) -> pd.DataFrame:
    """Check the panel against XNYS sessions and say exactly which dates disagree."""
    from zipline.utils.calendar_utils import get_calendar

    calendar = get_calendar("XNYS", start=min(prices.index[0], pd.Timestamp("1990-01-01")))
    sessions = calendar.sessions_in_range(prices.index[0], prices.index[-1])
    extra = prices.index.difference(sessions)
    missing = sessions.difference(prices.index)
    if len(extra) or len(missing):
        parts = []
        if len(extra):
            parts.append(
                f"{len(extra)} dates are not NYSE sessions (first: "
                f"{', '.join(str(d.date()) for d in extra[:3])})"
            )
        if len(missing):
            parts.append(
                f"{len(missing)} NYSE sessions have no prices (first: "
                f"{', '.join(str(d.date()) for d in missing[:3])})"
            )
        raise DataError(
            "prices do not match the NYSE (XNYS) trading calendar: "
            + "; ".join(parts)
            + ". The zipline engine trades on NYSE sessions only: give one row per NYSE "
            "session, or run with --engine sim, which takes the file's rows as its sessions."
        )
    return prices


def run(
    strategy: Strategy,
    prices: pd.DataFrame,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    costs: CostModel,
    capital: float = 10_000_000.0,
    rebalance: str = "month_start",
    benchmark_returns: pd.Series | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    sizing: orders.OrderSizing | None = None,
) -> ZiplineResult:
    """Backtest ``strategy`` from ``start`` to ``end`` on the whole validated ``prices`` panel.

    History before ``start`` is available to the strategy as its estimation window.
    """
    from zipline import run_algorithm
    from zipline.api import (
        date_rules, get_datetime, get_order, order_target, order_target_percent,
        schedule_function, set_commission, set_slippage, sid, time_rules,
    )
    from zipline.finance import commission, slippage

    if rebalance not in REBALANCE_RULES:
        raise DataError(f"unknown rebalance rule {rebalance!r}; use one of {REBALANCE_RULES}")
    align_to_calendar(prices)
    name = ensure_bundle(prices)
    sessions = prices.loc[start:end].index
    if len(sessions) < 2:
        raise DataError(f"the backtest window {start.date()}..{end.date()} holds under 2 sessions")
    decisions: list[Decision] = []
    total = len(sessions)
    complete = not prices.isna().to_numpy().any()  # then no decision scans its history
    sizing = sizing or orders.OrderSizing()

    def initialize(context):
        # by sid (the bundle's column order): a symbol lookup fails for an asset listed later
        context.assets = {t: sid(i) for i, t in enumerate(prices.columns)}
        context.done = 0
        context.fills = []  # since the last decision
        context.seen = None  # the last bar whose transactions are in context.fills
        set_commission(commission.PerDollar(cost=costs.commission_bps / 1e4))
        set_slippage(slippage.FixedBasisPointsSlippage(basis_points=costs.slippage_bps,
                                                        volume_limit=1.0))
        rule = {
            "month_start": date_rules.month_start(),
            "week_start": date_rules.week_start(),
            "every_day": date_rules.every_day(),
        }[rebalance]
        schedule_function(rebalance_now, rule, time_rules.market_open())

    def collect_fills(context):
        """This bar's executed transactions into ``context.fills`` (once per bar)."""
        now = get_datetime()
        if context.seen == now:
            return
        context.seen = now
        # the ledger's public ``transactions(dt)``; the tracker exposes no other path to it
        for txn in context.metrics_tracker._ledger.transactions(now):
            context.fills.append(Fill(
                bar_data_session(now), txn["sid"].symbol, float(txn["amount"]),
                float(txn["price"]), float(get_order(txn["order_id"]).commission or 0.0)))

    def book_now(context, bar_data, today) -> Book:
        portfolio = context.portfolio
        assets = list(context.assets.values())
        marks = bar_data.current(assets, "price")
        shares = pd.Series(0.0, index=prices.columns)
        for asset, position in portfolio.positions.items():
            shares[asset.symbol] = float(position.amount)
        book = Book(today, float(portfolio.cash), shares,
                    pd.Series(marks.to_numpy(dtype=float), index=prices.columns),
                    tuple(context.fills), costs, sizing, whole_shares=True)
        context.fills = []
        return book

    def rebalance_now(context, bar_data):
        today = bar_data.current_session
        history = prices.loc[:today]
        if len(history) < strategy.min_history:
            return
        collect_fills(context)
        book = book_now(context, bar_data, today)
        decision = decide_investable(strategy, history, book, complete=complete)
        decisions.append(decision)
        if not sizing.active:
            for ticker, weight in decision.weights.items():
                if weight == 0 and book.shares[ticker] == 0:
                    continue  # nothing to do, and an asset not listed yet cannot be ordered
                order_target_percent(context.assets[ticker], float(weight))
            return
        target, _ = orders.size(decision.weights, book.shares, book.prices, book.cash,
                                costs=costs, sizing=sizing)
        for ticker, amount in target.items():
            if amount != book.shares.get(ticker, 0.0):
                order_target(context.assets[ticker], float(amount))

    stride = max(1, total // 200)  # a progress bar needs no more than 200 updates

    def handle_data(context, bar_data):
        collect_fills(context)
        context.done += 1
        if on_progress is not None and (context.done % stride == 0 or context.done == total):
            on_progress(context.done, total)

    bench = benchmark_returns
    if bench is None:
        bench = pd.Series(0.0, index=sessions)
    bench = bench.reindex(sessions).fillna(0.0)
    bench.index = bench.index.tz_localize("UTC") if bench.index.tz is None else bench.index
    logging.getLogger("zipline").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        perf = run_algorithm(
            start=sessions[0], end=sessions[-1], initialize=initialize,
            handle_data=handle_data, capital_base=capital, data_frequency="daily",
            bundle=name, benchmark_returns=bench, environ=_environ(),
        )
    return _collect(perf, decisions)


def bar_data_session(dt: pd.Timestamp) -> pd.Timestamp:
    """The session (tz-naive midnight) of a bar's timestamp."""
    return pd.Timestamp(dt).tz_localize(None).normalize() if pd.Timestamp(dt).tzinfo else (
        pd.Timestamp(dt).normalize())


def _collect(perf: pd.DataFrame, decisions: list[Decision]) -> ZiplineResult:
    """Daily returns, positions and transactions in the shape pyfolio expects (tz-naive)."""
    index = pd.DatetimeIndex(perf.index).tz_localize(None).normalize()
    perf = perf.copy()
    perf.index = index
    returns = perf["returns"].astype(float).rename("strategy")
    rows = []  # plain dicts: one DataFrame build, not a Series per session
    for positions, cash in zip(perf["positions"], perf["ending_cash"], strict=True):
        row = {p["sid"].symbol: p["amount"] * p["last_sale_price"] for p in positions}
        row["cash"] = cash
        rows.append(row)
    positions = pd.DataFrame(rows, index=index).fillna(0.0)
    txns = [
        {"date": date, "symbol": t["sid"].symbol, "amount": t["amount"], "price": t["price"]}
        for date, day in perf["transactions"].items()
        for t in day
    ]
    transactions = (
        pd.DataFrame(txns).set_index("date")
        if txns
        else pd.DataFrame(columns=["symbol", "amount", "price"], index=pd.DatetimeIndex([]))
    )
    return ZiplineResult(returns, positions, transactions, decisions, perf)
