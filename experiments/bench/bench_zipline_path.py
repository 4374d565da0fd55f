"""autoport's zipline path against a bare zipline run of the same monthly 1/N.

    python experiments/bench/bench_zipline_path.py [--sessions 4527] [--repeat 2]

Both runs use the same bundle (ingested once, before timing), the same sessions, costs and
capital, and a 1/N rebalanced on each month's first session:

- bare: ``zipline.run_algorithm`` with a minimal ``initialize`` / scheduled
  ``order_target_percent`` and an empty ``handle_data``;
- autoport: :func:`autoport.engines.zipline_engine.run` with the ``equal_weight`` strategy
  (the book handed to the strategy, the progress counter, the collection of returns,
  positions and transactions for pyfolio).

Prints the best wall time of each, per session, their ratio (the target is <= 1.3) and the
largest daily return difference (the two must trade alike).
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import pandas as pd

from autoport import data
from autoport.engines import zipline_engine
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=4527)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    logging.getLogger("zipline").setLevel(logging.ERROR)

    prices = data.bundled_prices()
    sessions = prices.index[-args.sessions:]
    costs, capital = CostModel(), 10_000_000.0
    ensure_bundle(prices)  # ingest once, outside the timings
    strategy = make_strategy("equal_weight")

    times = {"bare": [], "autoport": []}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        plain = bare(prices, sessions, costs, capital)
        times["bare"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ours = zipline_engine.run(strategy, prices, start=sessions[0], end=sessions[-1],
                                  costs=costs, capital=capital, rebalance="month_start",
                                  on_progress=lambda done, total: None)
        times["autoport"].append(time.perf_counter() - t0)
    diff = (ours.returns - plain.reindex(ours.returns.index)).abs().max()
    best = {k: min(v) for k, v in times.items()}
    n = len(sessions)
    print(f"monthly 1/N on {prices.shape[1]} assets x {n} sessions, best of {args.repeat}")
    for k in ("bare", "autoport"):
        print(f"  {k:9s}: {best[k]:6.1f} s  ({1e3 * best[k] / n:.2f} ms a session)")
    print(f"  ratio autoport / bare zipline: {best['autoport'] / best['bare']:.2f} "
          "(target <= 1.3)")
    print(f"  max daily return difference  : {diff:.2e}")


if __name__ == "__main__":
    main()
