"""Sweep fan-out on Ray against the same trials one after another in one process.

    python experiments/bench/bench_sweep.py [--trials 8] [--cpus 2]

Runs ``--trials`` MPT backtest trials (the fast engine, validation 2007-2014, bundled data,
windows spread over 126..504 sessions) twice in the same process: sequentially, then through
``autoport.sweep.runner.run_sweep`` on a local Ray with ``--cpus`` CPUs (Ray's start-up is
timed apart and not counted). Prints both wall times, their ratio (the target is <= 0.6 on 2
cores) and Ray's overhead per task: the sweep's wall time over the ideal
(sum of trial times / cpus), divided by the number of trials. Also checks that both ways
produce the same Sharpe ratios, so the comparison is of the same work.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from autoport import configfile, data
from autoport.strategies import make_strategy
from autoport.sweep.backtest_target import backtest_trial
from autoport.sweep.runner import ray_session, run_sweep
from autoport.sweep.spec import SweepSpec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()

    windows = [int(w) for w in np.linspace(126, 504, args.trials).round()]
    spec = configfile.validate(SweepSpec, {
        "target": "backtest", "strategy": "mpt", "metric": "sharpe", "search": "grid",
        "space": {"window": {"grid": windows}},
        "validation": {"start": "2007-01-01", "end": "2014-12-31"},
        "test": {"start": "2015-01-01", "end": "2022-12-31"}}, "bench spec")
    prices = data.bundled_prices()
    evaluate = partial(backtest_trial, strategy="mpt", prices=prices, period=spec.validation,
                       make_strategy=make_strategy)

    started = time.perf_counter()
    alone = {}
    each = []
    for w in windows:
        t0 = time.perf_counter()
        alone[w] = evaluate({"window": w}, 0).metrics["sharpe"]
        each.append(time.perf_counter() - t0)
    sequential = time.perf_counter() - started

    t0 = time.perf_counter()
    with ray_session(num_cpus=args.cpus):
        ray_start = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            result = run_sweep(spec, {}, evaluate, storage=Path(tmp), name="bench")
            fanned = time.perf_counter() - started
    on_ray = {t.params["window"]: t.metrics["sharpe"] for t in result.trials}
    same = all(abs(on_ray[w] - alone[w]) < 1e-12 for w in windows)
    ideal = sum(each) / args.cpus
    print(f"{args.trials} MPT trials, validation 2007-2014, fast engine")
    print(f"  one after another, one process : {sequential:7.1f} s "
          f"(a trial {min(each):.1f}-{max(each):.1f} s)")
    print(f"  Ray, {args.cpus} CPUs                  : {fanned:7.1f} s "
          f"(Ray start-up {ray_start:.1f} s, not counted)")
    print(f"  ratio Ray / sequential         : {fanned / sequential:7.2f}  (target <= 0.6)")
    print(f"  Ray overhead per task          : {(fanned - ideal) / args.trials:7.2f} s "
          f"(over the ideal sum/cpus = {ideal:.1f} s)")
    print(f"  same Sharpe ratios both ways   : {same}")


if __name__ == "__main__":
    main()
