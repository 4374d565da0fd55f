"""A backtest as the product runs it: a strategy and the 1/N baseline through one engine, plus
the index, on the same out-of-sample sessions, summarised with the same metrics.

The engine is zipline (the reference, and what promotion re-runs) or ``sim``, the fast
simulator (:func:`autoport.engines.simulator.run`): the same timing, costs, order sizing and
whole shares, so the two agree within 1e-8 a day (``tests/engines/test_backtest_engines.py``).

The first ``window`` sessions of the panel only feed estimates; trading starts after them for
both the strategy and the baseline, so every figure is out of sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from autoport import configfile, metrics
from autoport.engines import simulator, zipline_engine
from autoport.engines.costs import CostModel
from autoport.engines.orders import OrderSizing
from autoport.errors import ConfigError, DataError
from autoport.optimize.constraints import DEFAULT_MAX_WEIGHT
from autoport.decision import Decision, Strategy

BASELINE = "equal_weight"
ENGINES = ("zipline", "sim")


class BacktestConfig(BaseModel):
    """Everything that decides a backtest's numbers; saved with every run."""

    model_config = ConfigDict(extra="forbid")

    strategy: str = "mpt"
    start: date | None = None
    end: date | None = None
    window: int = Field(252, ge=20, description="estimation sessions before each decision")
    objective: str = "max_sharpe"
    max_weight: float = Field(DEFAULT_MAX_WEIGHT, gt=0, le=1)
    risk_free: float = Field(0.0, ge=-0.05, le=0.5, description="annual, for Sharpe/Sortino")
    rebalance: str = "month_start"
    capital: float = Field(10_000_000.0, gt=0)
    costs: CostModel = CostModel()
    orders: OrderSizing = Field(
        OrderSizing(), description="the engine's order sizing (lots, minimum trade value, "
        "cash buffer); none by default: zipline's order_target_percent")
    seed: int = 0
    strategy_params: dict[str, Any] = Field(default_factory=dict)
    selected_through: date | None = Field(
        None, description="last date of the data these settings were chosen on (written by "
        "`autoport sweep` into its chosen config); a backtest before it is in sample")
    sweep_run_id: str | None = Field(
        None, description="the `autoport sweep` parent run that chose these settings (written "
        "into its chosen config); `autoport promote` reads that sweep's deflated Sharpe ratio "
        "and PBO for the gates deflated_sharpe_min and pbo_max")
    allow_in_sample: bool = Field(
        False, description="run over dates a trained model or a selection already saw, "
        "reporting the in-sample part apart; refused otherwise")

    @field_validator("rebalance")
    @classmethod
    def _known_rule(cls, value: str) -> str:
        if value not in simulator.REBALANCE_RULES:
            raise ValueError(f"use one of {simulator.REBALANCE_RULES}")
        return value

    def strategy_arguments(self) -> dict[str, Any]:
        base: dict[str, Any] = {}
        if self.strategy == "mpt":
            base = {
                "window": self.window,
                "objective": self.objective,
                "max_weight": self.max_weight,
                "risk_free_rate": self.risk_free,
            }
        return {**base, **self.strategy_params}


def load_config(path, overrides: dict[str, Any] | None = None) -> BacktestConfig:
    """YAML file (optional) merged with CLI overrides; one message for any bad key or value.

    Parameters
    ----------
    path
        A YAML file of :class:`BacktestConfig` keys; None: the defaults.
    overrides
        Values given as options, applied over the file (None values ignored).
    """
    return configfile.load(BacktestConfig, path, overrides=overrides)


@dataclass
class StrategyRun:
    name: str
    returns: pd.Series
    metrics: dict[str, float]
    weights: pd.DataFrame  # target weights at each decision
    notes: list[str]
    records: list[dict]  # one structured record per decision (decisions.jsonl)
    positions: pd.DataFrame
    transactions: pd.DataFrame


@dataclass
class BacktestOutcome:
    config: BacktestConfig
    start: pd.Timestamp
    end: pd.Timestamp
    strategy: StrategyRun
    baseline: StrategyRun
    index_returns: pd.Series | None
    index_metrics: dict[str, float] | None
    engine: str = "zipline"
    # the last session the strategy's model or selection saw, when the run reaches into it
    # (only with allow_in_sample); figures are then also reported on each side of it
    in_sample_end: pd.Timestamp | None = None

    def split_metrics(self) -> dict[str, dict] | None:
        """Strategy, 1/N and index figures on the in-sample and out-of-sample sessions apart."""
        if self.in_sample_end is None:
            return None
        cut = self.in_sample_end
        parts = {"in_sample": lambda r: r.loc[r.index <= cut],
                 "out_of_sample": lambda r: r.loc[r.index > cut]}
        out = {}
        for label, part in parts.items():
            strategy, baseline = part(self.strategy.returns), part(self.baseline.returns)
            if len(strategy) < 2:
                out[label] = None
                continue
            out[label] = {
                "start": strategy.index[0], "end": strategy.index[-1],
                "metrics": metrics.summary(strategy, risk_free=self.config.risk_free),
                "baseline": metrics.summary(baseline, risk_free=self.config.risk_free),
                "index": (metrics.summary(part(self.index_returns).fillna(0.0),
                                          risk_free=self.config.risk_free)
                          if self.index_returns is not None else None),
            }
        return out


def seen_until(strategy: Strategy, config: BacktestConfig) -> pd.Timestamp | None:
    """The last date a trained model inside ``strategy`` (its ``seen_until``: a DQN's validation
    end, a logged regime model's training end) or the selection of ``config``'s settings saw.

    Parameters
    ----------
    strategy
        The strategy built from ``config``.
    config
        The backtest's settings (``selected_through``).
    """
    dates = [pd.Timestamp(d) for d in (getattr(strategy, "seen_until", None),
                                       config.selected_through) if d is not None]
    return max(dates) if dates else None


def trading_window(
    prices: pd.DataFrame, config: BacktestConfig, min_history: int = 0,
    seen: pd.Timestamp | None = None,
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First tradable session and the last one.

    Trading starts once ``window`` sessions of history exist and the strategy has the
    ``min_history`` it needs to decide (a regime detector needs years), not before ``start``:
    the strategy and 1/N are measured on the same sessions, none of them spent waiting in cash.
    With ``seen`` (the last date a trained model or a selection saw), trading starts after it
    by default, and an earlier ``start`` is refused unless ``allow_in_sample``.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): sessions by tickers.
    config
        The backtest's settings (``window``, ``start``, ``end``, ``allow_in_sample``).
    min_history
        Rows of history the strategy needs before its first decision.
    seen
        The last date a trained model or a selection saw (:func:`seen_until`); None: none.
    """
    skip = max(config.window, min_history - 1)
    if len(prices) <= skip + 1:
        raise DataError(
            f"prices hold {len(prices)} sessions; the strategy needs {skip} sessions of history "
            "before its first decision, which leaves none to trade; pass a longer history or a "
            "smaller --window"
        )
    earliest = prices.index[skip]
    if seen is not None:
        if config.start is None:
            earliest = max(earliest, seen + pd.Timedelta(days=1))
        elif pd.Timestamp(config.start) <= seen and not config.allow_in_sample:
            raise DataError(
                f"the {config.strategy} strategy's model or settings were fitted or selected on "
                f"data up to {seen.date()}; a backtest from {config.start} would score them on "
                f"that data and call it out of sample. Start after {seen.date()} (drop --start "
                "to start there), or pass --allow-in-sample to run anyway with the in-sample "
                "part reported apart"
            )
    start = max(earliest, pd.Timestamp(config.start)) if config.start else earliest
    end = min(pd.Timestamp(config.end), prices.index[-1]) if config.end else prices.index[-1]
    sessions = prices.loc[start:end].index
    if len(sessions) < 21:
        raise DataError(
            f"only {len(sessions)} tradable sessions between {start.date()} and {end.date()} "
            f"after the {config.window}-session window; widen --start/--end"
        )
    return sessions[0], sessions[-1]


def _run_one(
    strategy: Strategy, prices: pd.DataFrame, config: BacktestConfig, start, end,
    benchmark_returns, on_progress, engine: str,
) -> StrategyRun:
    if engine == "sim":
        run = simulator.run(
            strategy, prices, start=start, end=end, rebalance=config.rebalance,
            costs=config.costs, capital=config.capital, sizing=config.orders,
            whole_shares=True,
        )
        returns, positions, decisions = run.returns, run.positions, run.decisions
        transactions = simulator.transactions_frame(run.fills)
        if on_progress is not None:
            on_progress(len(returns), len(returns))
    else:
        result = zipline_engine.run(
            strategy, prices, start=start, end=end, costs=config.costs, capital=config.capital,
            rebalance=config.rebalance, benchmark_returns=benchmark_returns,
            on_progress=on_progress, sizing=config.orders,
        )
        returns, positions, decisions = result.returns, result.positions, result.decisions
        transactions = result.transactions
    figures = metrics.summary(
        returns, positions=positions, transactions=transactions, risk_free=config.risk_free,
    )
    return StrategyRun(
        strategy.name, returns, figures, _weights_table(decisions),
        [f"{d.date.date()}: {d.reason}" for d in decisions],
        [_record(d) for d in decisions],
        positions, transactions,
    )


def _record(decision: Decision) -> dict:
    """The explanation of one decision: when, what, why, and the strategy's own details."""
    return {
        "date": decision.date,
        "weights": {k: round(float(v), 8) for k, v in decision.weights.items() if v > 0},
        "reason": decision.reason,
        **decision.details,
    }


def _weights_table(decisions: list[Decision]) -> pd.DataFrame:
    if not decisions:
        return pd.DataFrame()
    return pd.DataFrame({d.date: d.weights for d in decisions}).T


def run_backtest(
    config: BacktestConfig,
    prices: pd.DataFrame,
    *,
    make_strategy: Callable[..., Strategy],
    index_levels: pd.Series | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    engine: str = "zipline",
) -> BacktestOutcome:
    """Run the configured strategy and the 1/N baseline on the same sessions, through
    ``engine`` (``zipline``, the default and the reference, or ``sim``).

    ``make_strategy(name, **params)`` builds them (``autoport.strategies.make_strategy``); it is
    handed in because strategies live above the core.

    Parameters
    ----------
    config
        The backtest's settings.
    prices
        Adjusted closes, shape (T, N): sessions by tickers, validated.
    make_strategy
        ``make_strategy(name, **params)`` returns a :class:`~autoport.decision.Strategy`.
    index_levels
        Benchmark index levels on the same sessions, shape (T,); None: no index column.
    on_progress
        Called as ``on_progress(label, done, total)`` while the engines run.
    engine
        ``zipline`` (the reference) or ``sim`` (the fast simulator).
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    strategy = make_strategy(config.strategy, **config.strategy_arguments())
    seen = seen_until(strategy, config)
    start, end = trading_window(prices, config, strategy.min_history, seen)
    index_returns = None
    if index_levels is not None:
        index_returns = index_levels.pct_change().reindex(prices.loc[start:end].index)

    def progress(label):
        return (lambda done, total: on_progress(label, done, total)) if on_progress else None

    main = _run_one(strategy, prices, config, start, end, index_returns,
                    progress(config.strategy), engine)
    if config.strategy == BASELINE and not config.strategy_params:
        base = main  # the same strategy on the same sessions: one run serves both columns
    else:
        base = _run_one(make_strategy(BASELINE), prices, config, start, end, index_returns,
                        progress(BASELINE), engine)
    index_metrics = None
    if index_returns is not None:
        index_metrics = metrics.summary(index_returns.fillna(0.0), risk_free=config.risk_free)
    in_sample_end = seen if seen is not None and seen >= start else None
    return BacktestOutcome(config, start, end, main, base, index_returns, index_metrics, engine,
                           in_sample_end)
