"""``autoport backtest --engine sim`` against the zipline engine on the same config, same process.

    .venv/bin/python experiments/bench/bench_sim_engine.py [--strategy equal_weight] [--start D]

Runs :func:`autoport.backtest.run_backtest` (the strategy and the 1/N baseline, as the CLI
does) through zipline and through the fast simulator on the bundled prices, after ingesting
the zipline bundle and importing the metrics' libraries once (not timed). Prints each engine's
wall time, the ratio, and the largest daily return difference between the two. A strategy's
own decisions cost the same in both engines, so the ratio is highest for a cheap strategy
such as 1/N.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from autoport import data
from autoport.backtest import load_config, run_backtest
from autoport.engines import zipline_engine
from autoport.strategies import make_strategy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--strategy", default="equal_weight")
    parser.add_argument("--start", default=None)
    parser.add_argument("--end", default=None)
    args = parser.parse_args()
    prices = data.bundled_prices()
    zipline_engine.ensure_bundle(prices)  # the one-off ingestion is not what is compared
    import empyrical  # noqa: F401  (imported lazily by the first metrics call of either engine)
    import pyfolio.txn  # noqa: F401
    cfg = load_config(None, {"strategy": args.strategy, "start": args.start, "end": args.end})
    times, outcomes = {}, {}
    for engine in ("sim", "zipline"):
        t0 = time.perf_counter()
        outcomes[engine] = run_backtest(cfg, prices, make_strategy=make_strategy, engine=engine)
        times[engine] = time.perf_counter() - t0
    zp, sim = outcomes["zipline"], outcomes["sim"]
    sessions = len(zp.strategy.returns)
    diff = max(np.abs(a.returns.to_numpy() - b.returns.to_numpy()).max()
               for a, b in ((zp.strategy, sim.strategy), (zp.baseline, sim.baseline)))
    print(f"{args.strategy} and 1/N, {zp.start.date()} to {zp.end.date()} ({sessions} sessions, "
          f"capital {cfg.capital:,.0f})")
    print(f"zipline {times['zipline']:.2f} s, sim {times['sim']:.2f} s: "
          f"sim is {times['zipline'] / times['sim']:.1f}x faster; "
          f"max daily return difference {diff:.2e}")


if __name__ == "__main__":
    main()
