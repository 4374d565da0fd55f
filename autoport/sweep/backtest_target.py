"""Sweeps over backtest settings: a trial is a backtest on the validation period only.

Trials run on the fast simulator (it matches zipline to 1e-8 a day); the chosen settings are
then run once on the untouched test period through zipline, the reference engine, beside 1/N
and the index, with the simulator's figures for the same period next to them.

A trial never sees the test period: its price panel ends on the validation period's last
session, and its first decision uses only the sessions before it.

Strategies with a regime detector (``regime``, ``autopilot``) refit the same HMMs in every
trial unless the detector itself is searched: the driver fits them once on the validation
panel (:func:`autoport.regime.online.sharing`) and the trials receive them with the prices
through Ray's object store, so a trial only filters and solves.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from autoport import configfile
from autoport.backtest import BacktestConfig, BacktestOutcome, run_backtest
from autoport.errors import ConfigError, DataError
from autoport.regime import online
from autoport.sweep.runner import SweepResult, TrialOutcome, run_sweep
from autoport.sweep.spec import Period, SweepSpec, apply, check_space

SEARCH_ENGINE = "sim"
REFERENCE_ENGINE = "zipline"


@dataclass(frozen=True)
class BacktestSweep:
    """The search, the chosen settings, and their one look at the test period."""

    result: SweepResult
    chosen: BacktestConfig  # base config + the winner's settings, on the test period
    test: BacktestOutcome  # zipline, the reference
    test_fast: dict[str, float]  # the simulator's strategy metrics on the same test sessions

    def params(self) -> dict[str, Any]:
        spec = self.result.spec
        return {"target": spec.target.value, "strategy": spec.strategy, "metric": spec.metric,
                "search": spec.search.value, "trials": spec.trials, "seeds": list(spec.seeds),
                "validation": f"{spec.validation.start}..{spec.validation.end}",
                "test": f"{spec.test.start}..{spec.test.end}",
                **{f"chosen.{k}": v for k, v in self.result.winner.params.items()}}

    def metrics(self) -> dict[str, float]:
        dsr = self.result.deflated_sharpe()
        pbo = self.result.overfitting()
        out = {f"validation_{self.result.spec.metric}": self.result.winner.score,
               "deflated_sharpe": dsr.dsr, "deflated_sharpe_benchmark_daily": dsr.benchmark_sharpe,
               "n_trials_ok": len(self.result.succeeded),
               "n_trials_failed": len(self.result.trials) - len(self.result.succeeded),
               **{f"test_{k}": v for k, v in self.test.strategy.metrics.items()},
               **{f"test_baseline_{k}": v for k, v in self.test.baseline.metrics.items()},
               **{f"test_fast_{k}": v for k, v in self.test_fast.items()}}
        if pbo is not None:
            out["pbo"] = pbo.pbo
        for k, v in (self.test.index_metrics or {}).items():
            out[f"test_index_{k}"] = v
        return out


def check_backtest_spec(
    spec: SweepSpec, base: dict[str, Any], prices: pd.DataFrame,
    make_strategy: Callable[..., Any] | None = None,
) -> None:
    """Everything that can be refused before Ray starts: keys, values, periods vs the prices.

    With ``make_strategy`` each searched value also builds the strategy, so a key under
    ``strategy_params`` (a free mapping in the backtest config) the strategy does not take is
    refused here, not in every trial."""
    def validate(mapping):
        cfg = configfile.validate(BacktestConfig, {**mapping, "strategy": spec.strategy},
                                  "base config")
        if make_strategy is not None:
            make_strategy(cfg.strategy, **cfg.strategy_arguments())

    try:
        validate(base)
    except ConfigError as exc:
        raise ConfigError(f"the spec's base config does not fit strategy {spec.strategy!r}: "
                          f"{exc}") from None
    check_space(spec, base, validate)
    first, last = prices.index[0].date(), prices.index[-1].date()
    for label, period in (("validation", spec.validation), ("test", spec.test)):
        if period.start > last or period.end < first:
            raise DataError(
                f"the {label} period {period.start}..{period.end} lies outside the prices "
                f"({first}..{last}); move it in the spec or pass other prices")


def backtest_trial(
    config: dict[str, Any], seed: int, *, strategy: str, prices: pd.DataFrame, period: Period,
    make_strategy: Callable[..., Any], regime_fits: dict | None = None,
) -> TrialOutcome:
    """One setting on one seed, on the validation period, on the fast engine.

    ``regime_fits``: HMM fits built once by the driver (:func:`shared_regime_fits`)."""
    if regime_fits:
        online.install(regime_fits)
    cfg = configfile.validate(
        BacktestConfig, {**config, "strategy": strategy, "seed": seed, "start": period.start,
                         "end": period.end}, "trial settings")
    outcome = run_backtest(cfg, prices.loc[: pd.Timestamp(period.end)],
                           make_strategy=make_strategy, engine=SEARCH_ENGINE)
    return TrialOutcome(outcome.strategy.metrics, outcome.strategy.returns)


def sweep_backtest(
    spec: SweepSpec,
    base: dict[str, Any],
    prices: pd.DataFrame,
    *,
    make_strategy: Callable[..., Any],
    index_levels: pd.Series | None,
    storage: Path,
    name: str,
    seed: int = 0,
    resume: bool = False,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> BacktestSweep:
    """Search on validation (needs a :func:`autoport.sweep.runner.ray_session`), then test once."""
    check_backtest_spec(spec, base, prices, make_strategy)
    fits = shared_regime_fits(spec, base, prices, make_strategy)
    evaluate = partial(backtest_trial, strategy=spec.strategy, prices=prices,
                       period=spec.validation, make_strategy=make_strategy,
                       regime_fits=fits or None)
    result = run_sweep(spec, base, evaluate, storage=storage, name=name, seed=seed,
                       resume=resume)
    chosen = configfile.validate(
        BacktestConfig, {**apply(base, result.winner.params), "strategy": spec.strategy,
                         "seed": spec.seeds[0], "start": spec.test.start, "end": spec.test.end,
                         "selected_through": spec.validation.end},
        "chosen settings")
    test_prices = prices.loc[: pd.Timestamp(spec.test.end)]
    test = run_backtest(chosen, test_prices, make_strategy=make_strategy,
                        index_levels=index_levels, on_progress=on_progress,
                        engine=REFERENCE_ENGINE)
    fast = run_backtest(chosen, test_prices, make_strategy=make_strategy, engine=SEARCH_ENGINE)
    return BacktestSweep(result, chosen, test, fast.strategy.metrics)


def shared_regime_fits(
    spec: SweepSpec, base: dict[str, Any], prices: pd.DataFrame,
    make_strategy: Callable[..., Any],
) -> dict:
    """The HMM fits of the base settings' detector over the validation panel, built once.

    Empty for a strategy without a detector. Only prices up to the validation end are read,
    and a fit is keyed by the rows before its grid point, so a trial gets exactly the fits it
    would have made itself (a trial with other detector settings makes its own)."""
    cfg = configfile.validate(BacktestConfig, {**base, "strategy": spec.strategy, "seed":
                                               spec.seeds[0]}, "base config")
    strategy = make_strategy(cfg.strategy, **cfg.strategy_arguments())
    history = prices.loc[: pd.Timestamp(spec.validation.end)]
    with online.sharing() as fits:
        try:
            if hasattr(strategy, "regimes"):  # the regime strategy
                strategy.regimes(history)
            elif (detector := _autopilot_detector(strategy)) is not None:
                copy.deepcopy(detector).view(history)
        except DataError:
            return {}  # too short a history to fit: each trial says so itself
        return dict(fits)


def _autopilot_detector(strategy: Any):
    """The autopilot's regime detector (its ``prepare()`` loads it; None when disabled)."""
    prepared = strategy.prepare() if hasattr(strategy, "prepare") else strategy
    return getattr(prepared, "detector", None)
