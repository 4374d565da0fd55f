"""Run a strategy and 1/N on every fold of a layout, each fold a Ray task on the fast engine.

A fold's test rows are traded block by block (a CPCV fold may test several separate groups).
For each block the strategy is built afresh and driven by the simulator over a panel made of
the fold's **estimation rows** (:func:`autoport.walkforward.folds.estimation_rows`: the
warm-up, then the training rows before the block, purged and embargoed) followed by the block
itself. The simulator hands the strategy that panel up to each decision, so a decision sees
neither later test sessions, nor the purged and embargoed sessions, nor any training session
after the block. Every block starts from cash and decides on its first session and then on the
rebalance schedule; its first session only decides (its return is left out). 1/N runs on the
same blocks with the same costs, so the two Sharpe ratios of a fold are paired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autoport import metrics
from autoport.backtest import BASELINE, BacktestConfig
from autoport.engines import simulator
from autoport.errors import AutoportError, DataError
from autoport.walkforward.folds import Fold, Scheme, estimation_rows

SUMMARY_KEYS = ("sharpe", "annual_return", "annual_volatility", "max_drawdown")


@dataclass(frozen=True)
class BlockRun:
    """One strategy on one contiguous test block."""

    returns: pd.Series  # daily, the block's sessions after the first
    weights: pd.DataFrame  # target weights at each decision (rows: decision dates)


@dataclass(frozen=True)
class FoldResult:
    fold: int
    groups: tuple[int, ...]
    periods: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]  # each test block's first..last
    n_estimation: int  # estimation rows behind the first block
    strategy: dict[str, float]
    baseline: dict[str, float]
    returns: pd.Series = field(repr=False)
    baseline_returns: pd.Series = field(repr=False)


@dataclass(frozen=True)
class WalkForwardResult:
    strategy: str
    scheme: Scheme
    settings: dict[str, Any]
    folds: tuple[FoldResult, ...]  # in fold order

    def table(self) -> pd.DataFrame:
        """One row per fold: test periods, and each side's figures."""
        rows = []
        for f in self.folds:
            rows.append({
                "fold": f.fold, "groups": " ".join(map(str, f.groups)),
                "test": "; ".join(f"{a.date()}..{b.date()}" for a, b in f.periods),
                "sessions": len(f.returns), "estimation_sessions": f.n_estimation,
                **{f"{self.strategy}_{k}": f.strategy[k] for k in SUMMARY_KEYS},
                **{f"1/N_{k}": f.baseline[k] for k in SUMMARY_KEYS},
            })
        return pd.DataFrame(rows)

    def sharpes(self) -> pd.DataFrame:
        """Fold Sharpe ratios (annualised), one column for the strategy and one for 1/N."""
        return pd.DataFrame({self.strategy: [f.strategy["sharpe"] for f in self.folds],
                             "1/N": [f.baseline["sharpe"] for f in self.folds]},
                            index=pd.Index([f.fold for f in self.folds], name="fold"))

    def summary(self) -> dict[str, dict[str, float]]:
        """Median, quartiles, IQR, mean and spread of the fold Sharpe ratios per side, and
        how often the strategy beat 1/N on the same fold."""
        frame = self.sharpes()
        out = {}
        for name in frame.columns:
            s = frame[name].to_numpy(dtype=float)
            q25, q50, q75 = np.nanpercentile(s, [25, 50, 75])
            out[name] = {"median": float(q50), "q25": float(q25), "q75": float(q75),
                         "iqr": float(q75 - q25), "mean": float(np.nanmean(s)),
                         "std": float(np.nanstd(s, ddof=1)) if len(s) > 1 else float("nan"),
                         "min": float(np.nanmin(s)), "max": float(np.nanmax(s)),
                         "folds": int(len(s))}
        diff = frame[self.strategy] - frame["1/N"]
        out[self.strategy]["share_beating_baseline"] = float((diff > 0).mean())
        out[self.strategy]["median_difference"] = float(diff.median())
        return out

    def metrics(self) -> dict[str, float]:
        """Flat figures for MLflow (the parent run)."""
        flat = {}
        for name, figures in self.summary().items():
            side = "strategy" if name == self.strategy else "baseline"
            flat.update({f"{side}_sharpe_{k}": v for k, v in figures.items()})
        return flat


def block_panel(prices: pd.DataFrame, fold: Fold, block: np.ndarray, warmup: int,
                purge: int) -> pd.DataFrame:
    """The estimation rows, then the block's rows: all a strategy may see in this block."""
    rows = np.concatenate([estimation_rows(fold, block, warmup, purge), block + warmup])
    return prices.iloc[rows]


def decision_dates(panel: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
                   rebalance: str) -> pd.DatetimeIndex:
    """The block's first session, then the rebalance schedule inside it."""
    scheduled = simulator.schedule(panel.loc[start:end].index, start, end, rebalance)
    return pd.DatetimeIndex([start]).union(scheduled)


def run_block(strategy, prices: pd.DataFrame, fold: Fold, block: np.ndarray, warmup: int,
              purge: int, config: BacktestConfig) -> BlockRun:
    """Drive ``strategy`` through one test block on the fast engine (see the module doc)."""
    panel = block_panel(prices, fold, block, warmup, purge)
    start, end = prices.index[block[0] + warmup], prices.index[block[-1] + warmup]
    run = simulator.run(strategy, panel, start=start, end=end,
                        dates=decision_dates(panel, start, end, config.rebalance),
                        costs=config.costs, capital=config.capital, sizing=config.orders,
                        whole_shares=True)
    weights = pd.DataFrame({d.date: d.weights for d in run.decisions}).T
    return BlockRun(run.returns.iloc[1:], weights)


def run_fold(
    prices: pd.DataFrame, fold: Fold, warmup: int, purge: int, config: BacktestConfig,
    make_strategy: Callable[..., Any],
) -> FoldResult:
    """The strategy and 1/N on each test block of ``fold``; figures on the joined blocks."""
    sides: dict[str, list[pd.Series]] = {"strategy": [], "baseline": []}
    builders = {"strategy": lambda: make_strategy(config.strategy,
                                                  **config.strategy_arguments()),
                "baseline": lambda: make_strategy(BASELINE)}
    for block in fold.blocks():
        for side, build in builders.items():  # a fresh object a block: no state crosses gaps
            run = run_block(build(), prices, fold, block, warmup, purge, config)
            sides[side].append(run.returns)
    returns = {side: pd.concat(parts) for side, parts in sides.items()}
    periods = tuple((prices.index[b[0] + warmup], prices.index[b[-1] + warmup])
                    for b in fold.blocks())
    figures = {side: metrics.summary(r, risk_free=config.risk_free) for side, r in
               returns.items()}
    first = fold.blocks()[0]
    return FoldResult(fold.index, fold.groups, periods,
                      len(estimation_rows(fold, first, warmup, purge)),
                      figures["strategy"], figures["baseline"], returns["strategy"],
                      returns["baseline"])


def check_history(folds: list[Fold], warmup: int, purge: int, min_history: int,
                  strategy: str) -> None:
    """Refuse, before any work, a layout whose estimation rows are too short to decide on."""
    for fold in folds:
        for block in fold.blocks():
            have = len(estimation_rows(fold, block, warmup, purge)) + 1
            if have < min_history:
                raise DataError(
                    f"fold {fold.index} gives the {strategy} strategy {have} sessions before "
                    f"its first test decision; it needs {min_history}. Pass a longer --train "
                    "or --warmup, or a longer period")


def _fold_task(prices, fold, warmup, purge, config, make_strategy):
    """One fold on a Ray worker; a user error comes back as its message, not a traceback."""
    try:
        return run_fold(prices, fold, warmup, purge, config, make_strategy)
    except AutoportError as exc:
        return f"fold {fold.index}: {exc}"


def run_folds(
    prices: pd.DataFrame, folds: list[Fold], *, warmup: int, purge: int, config: BacktestConfig,
    make_strategy: Callable[..., Any], scheme: Scheme, settings: dict[str, Any],
    on_fold: Callable[[int, int], None] | None = None,
) -> WalkForwardResult:
    """Every fold as one Ray task (needs a :func:`autoport.sweep.runner.ray_session`); the
    panel goes to the object store once."""
    import ray

    task = ray.remote(num_cpus=1, max_retries=0)(_fold_task)
    panel = ray.put(prices)
    pending = [task.remote(panel, fold, warmup, purge, config, make_strategy) for fold in folds]
    results: list[FoldResult] = []
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        outcome = ray.get(done[0])
        if isinstance(outcome, str):
            for ref in pending:
                ray.cancel(ref)
            raise AutoportError(outcome)
        results.append(outcome)
        if on_fold is not None:
            on_fold(len(results), len(folds))
    return WalkForwardResult(config.strategy, scheme, settings,
                             tuple(sorted(results, key=lambda f: f.fold)))
