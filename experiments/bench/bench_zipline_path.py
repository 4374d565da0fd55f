"""``autoport backtest --strategy equal_weight`` (the whole command) against a bare zipline run
of the same monthly 1/N on the same sessions, same process.

    python experiments/bench/bench_zipline_path.py [--start 2005-01-03] [--repeat 1]

- bare: ``zipline.run_algorithm`` with a minimal ``initialize``, a scheduled
  ``order_target_percent`` of 1/N on each month's first session and an empty ``handle_data``,
  on the command's sessions, costs and capital;
- command: ``autoport backtest --strategy equal_weight --no-track --out DIR`` invoked in this
  process (Typer's runner): prices and the index loaded and checked, the zipline run with the
  book handed to the strategy and the progress callback, the metrics (pyfolio's turnover
  included), the index's figures, and every artifact (CSV files, the comparison and weight
  figures, the pyfolio tear sheet). The 1/N column is the strategy's own run (the command runs
  1/N once when the strategy is 1/N), so one bare run is the reference. ``core`` is the part
  spent in :func:`autoport.backtest.run_backtest`, timed apart in a second call.

Both are warmed up once on a short period (imports, the bundle, fonts; not timed). Prints the
best wall time of each, per session, the ratio (the target is <= 1.3) and the largest daily
return difference between the command's ``daily_returns.csv`` and the bare run.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from autoport import data
from autoport.backtest import load_config, run_backtest, trading_window
from autoport.engines.costs import CostModel
from autoport.engines.zipline_bundle import ensure_bundle, environ
from autoport.strategies import make_strategy


def bare(prices: pd.DataFrame, sessions: pd.DatetimeIndex, costs: CostModel,
         capital: float) -> pd.Series:
    from zipline import run_algorithm
    from zipline.api import (
        date_rules, order_target_percent, schedule_function, set_commission, set_slippage,
        symbol, time_rules,
    )
    from zipline.finance import commission, slippage

    weight = 1.0 / prices.shape[1]

    def initialize(context):
        context.assets = [symbol(t) for t in prices.columns]
        set_commission(commission.PerDollar(cost=costs.commission_bps / 1e4))
        set_slippage(slippage.FixedBasisPointsSlippage(basis_points=costs.slippage_bps,
                                                        volume_limit=1.0))
        schedule_function(rebalance, date_rules.month_start(), time_rules.market_open())

    def rebalance(context, bar_data):
        for asset in context.assets:
            order_target_percent(asset, weight)

    bench = pd.Series(0.0, index=sessions.tz_localize("UTC"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        perf = run_algorithm(start=sessions[0], end=sessions[-1], initialize=initialize,
                             handle_data=lambda context, bar_data: None, capital_base=capital,
                             data_frequency="daily", bundle=ensure_bundle(prices),
                             benchmark_returns=bench, environ=environ())
    returns = perf["returns"].astype(float)
    returns.index = pd.DatetimeIndex(returns.index).tz_localize(None).normalize()
    return returns


def command(start: str | None, out: Path) -> None:
    from typer.testing import CliRunner

    from autoport_cli.main import app

    argv = ["backtest", "--strategy", "equal_weight", "--no-track", "--out", str(out)]
    result = CliRunner().invoke(app, argv + (["--start", start] if start else []))
    if result.exit_code != 0:
        raise SystemExit(f"autoport backtest failed:\n{result.output}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", default=None, help="first session (default: the command's)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    logging.getLogger("zipline").setLevel(logging.ERROR)
    os.environ.setdefault("AUTOPORT_HOME", tempfile.mkdtemp(prefix="bench-zipline-path-"))
    work = Path(tempfile.mkdtemp(prefix="bench-zipline-path-out-"))

    prices = data.bundled_prices()
    cfg = load_config(None, {"strategy": "equal_weight", "start": args.start})
    first, last = trading_window(prices, cfg)
    sessions = prices.loc[first:last].index
    ensure_bundle(prices)
    # warm-up, not timed: imports, fonts, pyfolio, zipline's calendars
    bare(prices, sessions[-60:], cfg.costs, cfg.capital)
    command(str(sessions[-60].date()), work / "warm")

    times = {"bare": [], "command": [], "core": []}
    for k in range(args.repeat):
        t0 = time.perf_counter()
        plain = bare(prices, sessions, cfg.costs, cfg.capital)
        times["bare"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        command(args.start, work / f"run{k}")
        times["command"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run_backtest(cfg, prices, make_strategy=make_strategy,
                     index_levels=data.bundled_benchmark())
        times["core"].append(time.perf_counter() - t0)
    ours = pd.read_csv(work / f"run{args.repeat - 1}" / "daily_returns.csv", index_col="date",
                       parse_dates=True)["equal_weight"]
    diff = (ours - plain.reindex(ours.index)).abs().max()
    best = {k: min(v) for k, v in times.items()}
    n = len(sessions)
    print(f"monthly 1/N on {prices.shape[1]} assets x {n} sessions "
          f"({sessions[0].date()} to {sessions[-1].date()}), best of {args.repeat}")
    for k, label in (("bare", "bare zipline"), ("command", "autoport backtest"),
                     ("core", "  of which run_backtest")):
        print(f"  {label:24s}: {best[k]:6.1f} s  ({1e3 * best[k] / n:.2f} ms a session)")
    print(f"  ratio command / bare zipline: {best['command'] / best['bare']:.2f} "
          f"(target <= 1.3); run_backtest / bare: {best['core'] / best['bare']:.2f}")
    print(f"  max daily return difference  : {diff:.2e}")


if __name__ == "__main__":
    main()
