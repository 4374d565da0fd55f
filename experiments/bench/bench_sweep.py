"""Sweep fan-out on Ray against the same trials one after another in one process.

    python experiments/bench/bench_sweep.py [--strategy mpt] [--trials 8] [--cpus 2]

Runs ``--trials`` backtest trials as ``autoport sweep`` runs them (the fast engine on the
validation period 2007-2014, bundled data: a full-size trial) twice in the same process:
one after another, then through ``autoport.sweep.runner.run_sweep`` on a local Ray with
``--cpus`` CPUs started by ``ray_session`` exactly as the sweep command starts it (no
dashboard, no log forwarding, one BLAS thread a worker). ``mpt`` trials spread the estimation
window over 126..504 sessions; ``regime`` trials spread the switching threshold over
0.55..0.90, with the HMM fits built once and shared both ways (the loop's trials share them in
its process; the sweep's driver builds them, counted in the sweep's time, and ships them).

The target (issue 14, item 6: at most 0.6) is the **whole** Ray time, from ``ray.init`` to
``run_sweep`` returning, over the loop's time. Printed beside it, from timestamps taken inside
the trials: the fixed start (``ray.init``, then ``run_sweep`` to the first trial starting: the
trial actors' processes, their imports, Tune's set-up), the ratio without that start, Ray's
overhead per task (the gap between two trials on the same worker: Tune's bookkeeping, the
result's trip to the driver), the end (last trial done to ``run_sweep`` returning), and the
trials' own time on Ray against alone (cores shared with other jobs slow them). It also checks
that both ways produce the same Sharpe ratios, so the comparison is of the same work.

BLAS runs one thread everywhere (Ray's workers get one; the loop is given one too, so it does
not borrow the second core). The machine's load average is printed before and after: on a
shared machine the ratio means little when the load exceeds the cores.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads BLAS

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from autoport import configfile, data  # noqa: E402
from autoport.regime import online  # noqa: E402
from autoport.strategies import make_strategy  # noqa: E402
from autoport.sweep.backtest_target import backtest_trial, shared_regime_fits  # noqa: E402
from autoport.sweep.runner import TrialOutcome, ray_session, run_sweep  # noqa: E402
from autoport.sweep.spec import SweepSpec, apply  # noqa: E402

KEYS = {"mpt": "window", "regime": "strategy_params.config.strategy.threshold"}


def timed(config, seed, *, evaluate):
    """The trial, with its wall-clock start and end and its process id in its metrics."""
    started = time.time()
    out = evaluate(config, seed)
    return TrialOutcome({**out.metrics, "t_start": started, "t_end": time.time(),
                         "pid": float(os.getpid())}, out.returns)


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


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
    load_before = load()

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
    whole = ray_start + fanned
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
    fixed = ray_start + first
    workers = len({t.metrics["pid"] for t in trials})
    print(f"{args.trials} {args.strategy} trials, validation 2007-2014, fast engine; "
          f"load {load_before} before, {load()} after (1-, 5-, 15-min averages)")
    print(f"  one after another, one process : {sequential:7.1f} s "
          f"(a trial {min(each):.2f}-{max(each):.2f} s, {sum(each):.1f} s of work)")
    print(f"  {f'Ray, {args.cpus} CPUs, whole':31}: {whole:7.1f} s "
          f"(ray.init {ray_start:.1f} s + run_sweep {fanned:.1f} s)")
    print(f"  ratio, start included          : {whole / sequential:7.2f}  (target <= 0.6)")
    print(f"  fixed start                    : {fixed:7.1f} s (ray.init {ray_start:.2f} s, "
          f"run_sweep to the first trial {first:.2f} s)")
    print(f"  ratio without the fixed start  : {(whole - fixed) / sequential:7.2f}")
    print(f"  overhead per task              : {np.mean(gaps) if gaps else float('nan'):7.3f} s "
          f"(gap between trials on a worker, mean of {len(gaps)}); end {tail:.2f} s")
    print(f"  trials' own time on Ray        : {busy:7.1f} s on {workers} workers "
          f"({busy / sum(each):.2f}x their time alone)")
    print(f"  same Sharpe ratios both ways   : {same}")


if __name__ == "__main__":
    main()
