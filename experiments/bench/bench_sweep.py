"""Sweep fan-out on Ray against the same trials one after another in one process.

    python experiments/bench/bench_sweep.py [--strategy regime] [--trials 8] [--cpus 2]

Runs ``--trials`` backtest trials (the fast engine, validation 2007-2014, bundled data) twice
in the same process: sequentially, then through ``autoport.sweep.runner.run_sweep`` on a local
Ray with ``--cpus`` CPUs (Ray's start-up is timed apart and not counted). ``mpt`` trials spread
the estimation window over 126..504 sessions; ``regime`` trials spread the switching threshold
over 0.55..0.90, with the HMM fits built once and shared, both ways (the sequential loop's
trials share them in its process; the sweep's driver builds them and ships them to the
workers, and that build is counted in the sweep's time).

Prints both wall times, their ratio (the target is <= 0.6 on 2 cores) and where Ray's time
goes, from timestamps taken inside the trials: Tune's start (from ``run_sweep`` to the first
trial starting: the trial actors' processes starting and importing Ray Tune and autoport), the
gap between two trials on the same worker (Ray's overhead per task: Tune's bookkeeping, the
result's trip to the driver), and the end (last trial done to ``run_sweep`` returning). Also
checks that both ways produce the same Sharpe ratios, so the comparison is of the same work.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from autoport import configfile, data
from autoport.regime import online
from autoport.strategies import make_strategy
from autoport.sweep.backtest_target import backtest_trial, shared_regime_fits
from autoport.sweep.runner import TrialOutcome, ray_session, run_sweep
from autoport.sweep.spec import SweepSpec

KEYS = {"mpt": "window", "regime": "strategy_params.config.strategy.threshold"}


def timed(config, seed, *, evaluate):
    """The trial, with its wall-clock start and end and its process id in its metrics."""
    started = time.time()
    out = evaluate(config, seed)
    return TrialOutcome({**out.metrics, "t_start": started, "t_end": time.time(),
                         "pid": float(os.getpid())}, out.returns)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--strategy", choices=sorted(KEYS), default="mpt")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()

    key = KEYS[args.strategy]
    if args.strategy == "mpt":
        values = [int(w) for w in np.linspace(126, 504, args.trials).round()]
    else:
        values = [round(float(v), 4) for v in np.linspace(0.55, 0.90, args.trials)]
    spec = configfile.validate(SweepSpec, {
        "target": "backtest", "strategy": args.strategy, "metric": "sharpe", "search": "grid",
        "space": {key: {"grid": values}},
        "validation": {"start": "2007-01-01", "end": "2014-12-31"},
        "test": {"start": "2015-01-01", "end": "2022-12-31"}}, "bench spec")
    prices = data.bundled_prices()
    evaluate = partial(backtest_trial, strategy=args.strategy, prices=prices,
                       period=spec.validation, make_strategy=make_strategy)

    from autoport.sweep.spec import apply

    started = time.perf_counter()
    alone, each = {}, []
    with online.sharing():  # the loop's trials share their HMM fits too
        for v in values:
            t0 = time.perf_counter()
            alone[v] = evaluate(apply({}, {key: v}), 0).metrics["sharpe"]
            each.append(time.perf_counter() - t0)
    sequential = time.perf_counter() - started

    t0 = time.perf_counter()
    with ray_session(num_cpus=args.cpus):
        ray_start = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            began, started = time.time(), time.perf_counter()
            fits = shared_regime_fits(spec, {}, prices, make_strategy)
            shared = partial(evaluate, regime_fits=fits or None)
            result = run_sweep(spec, {}, partial(timed, evaluate=shared), storage=Path(tmp),
                               name="bench")
            fanned, ended = time.perf_counter() - started, time.time()
    trials = result.trials
    on_ray = {t.params[key]: t.metrics["sharpe"] for t in trials}
    same = all(abs(on_ray[v] - alone[v]) < 1e-12 for v in values)
    first = min(t.metrics["t_start"] for t in trials) - began
    tail = ended - max(t.metrics["t_end"] for t in trials)
    gaps = []
    for pid in {t.metrics["pid"] for t in trials}:
        mine = sorted((t.metrics["t_start"], t.metrics["t_end"]) for t in trials
                      if t.metrics["pid"] == pid)
        gaps += [b[0] - a[1] for a, b in zip(mine, mine[1:])]
    busy = sum(t.metrics["t_end"] - t.metrics["t_start"] for t in trials)
    print(f"{args.trials} {args.strategy} trials, validation 2007-2014, fast engine")
    print(f"  one after another, one process : {sequential:7.1f} s "
          f"(a trial {min(each):.2f}-{max(each):.2f} s)")
    print(f"  Ray, {args.cpus} CPUs                  : {fanned:7.1f} s "
          f"(Ray start-up {ray_start:.1f} s, not counted)")
    print(f"  ratio Ray / sequential         : {fanned / sequential:7.2f}  (target <= 0.6)")
    print(f"  where Ray's time goes          : Tune start to the first trial {first:.2f} s; "
          f"gap between trials on a worker {np.mean(gaps) if gaps else float('nan'):.3f} s "
          f"(mean of {len(gaps)}; Ray's overhead per task); end {tail:.2f} s; trials "
          f"{busy:.1f} s of work on {len({t.metrics['pid'] for t in trials})} workers")
    print(f"  same Sharpe ratios both ways   : {same}")


if __name__ == "__main__":
    main()
