"""Sweep fan-out on Ray against the same trials one after another in one process.

    python experiments/bench/bench_sweep.py [--strategy mpt|regime|autopilot] [--trials 8]

Runs ``--trials`` backtest trials as ``autoport sweep`` runs them (the fast engine on the
validation period 2007-2014, bundled data, the base config the shipped spec in
``experiments/sweeps/`` names: full-size trials) twice in the same process: one after another,
then through ``autoport.sweep.runner.run_sweep`` on a local Ray with ``--cpus`` CPUs started
by ``ray_session`` exactly as the sweep command starts it. ``mpt`` trials spread the estimation
window over 126..504 sessions, ``regime`` trials the switching threshold over 0.55..0.90,
``autopilot`` trials the risk tolerance over 0.2..0.9; the HMM fits of the regime detector are
built once and shared both ways (the loop's first trial builds them for the others in its
process; the sweep's driver builds them, counted in the sweep's time, and ships them).

The target (issue 14, item 6: at most 0.6) is the **whole** Ray time, from ``ray.init`` to
``run_sweep`` returning, over the loop's time. Printed beside it, from timestamps taken inside
the trials: the fixed start (``ray.init``; the driver's shared fits; Tune's set-up until the
first trial actor's process exists; that process's start-up until its first trial: Python, Ray,
Tune and autoport imports; process births read against ``time.time()`` after removing psutil's
offset of up to a second, :func:`clock_offset`), the ratio without that start, Ray's overhead
per task (the gap between two trials on the same worker: Tune's bookkeeping, the result's trip
to the driver), the end (last trial done to ``run_sweep`` returning), the trials' own time on
Ray against alone (cores shared with other jobs slow them) and the workers' niceness, and the
CPU time spent while on Ray by the driver, the trial workers and Ray's own processes (GCS,
raylet, agents, monitors), against the loop's. The loop's CPU time is what it would take on a
core of its own: when other jobs slow the loop (its CPU time well under its wall time), the
ratio against it is the fairer one. The Ray side's CPU time spread evenly over the CPUs, against
the loop's CPU time, is the ratio free cores would give at best (a bound that other jobs hardly
move: the start is partly serial, so it is optimistic). It also checks that both ways produce
the same Sharpe ratios, so the comparison is of the same work.

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

ROOT = Path(__file__).resolve().parents[2]
# the searched key and its 8 (or --trials) values; the base config the shipped spec names
SETTINGS = {
    "mpt": ("window", lambda n: [int(w) for w in np.linspace(126, 504, n).round()],
            "configs/backtest.yaml"),
    "regime": ("strategy_params.config.strategy.threshold",
               lambda n: [round(float(v), 4) for v in np.linspace(0.55, 0.90, n)],
               "configs/backtest.yaml"),
    "autopilot": ("strategy_params.risk_tolerance",
                  lambda n: [round(float(v), 4) for v in np.linspace(0.2, 0.9, n)],
                  "configs/autopilot_backtest.yaml"),
}


def timed(config, seed, *, evaluate):
    """The trial, with its wall-clock start and end, and its process's id, start time,
    niceness and CPU time so far, in its metrics."""
    import psutil

    started = time.time()
    out = evaluate(config, seed)
    me = psutil.Process()
    cpu = me.cpu_times()
    return TrialOutcome({**out.metrics, "t_start": started, "t_end": time.time(),
                         "pid": float(os.getpid()), "born": me.create_time(),
                         "nice": float(me.nice()), "cpu": cpu.user + cpu.system}, out.returns)


def clock_offset() -> float:
    """psutil's process start time minus ``time.time()`` for a process started now.

    A start time counts from the boot time, which Linux gives in whole seconds, so births
    read against ``time.time()`` are off by up to a second; this is subtracted from them."""
    import subprocess
    import sys

    import psutil

    before = time.time()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    born = psutil.Process(child.pid).create_time()
    child.wait()
    return born - before


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def cpu_seconds(processes) -> float:
    total = 0.0
    for p in processes:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:  # noqa: BLE001 (gone: counted up to its last sample)
            pass
    return total


def main() -> None:
    import psutil

    parser = argparse.ArgumentParser()
    parser.add_argument("--strategy", choices=sorted(SETTINGS), default="mpt")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()

    key, grid, base_file = SETTINGS[args.strategy]
    values = grid(args.trials)
    base, _ = configfile.read_mapping(ROOT / base_file)
    spec = configfile.validate(SweepSpec, {
        "target": "backtest", "strategy": args.strategy, "metric": "sharpe", "search": "grid",
        "space": {key: {"grid": values}},
        "validation": {"start": "2007-01-01", "end": "2014-12-31"},
        "test": {"start": "2015-01-01", "end": "2022-12-31"}}, "bench spec")
    prices = data.bundled_prices()
    evaluate = partial(backtest_trial, strategy=args.strategy, prices=prices,
                       period=spec.validation, make_strategy=make_strategy)
    load_before = load()

    started, loop_cpu = time.perf_counter(), time.process_time()
    alone, each = {}, []
    with online.sharing():  # the loop's trials share their HMM fits too
        for v in values:
            t0 = time.perf_counter()
            alone[v] = evaluate(apply(base, {key: v}), 0).metrics["sharpe"]
            each.append(time.perf_counter() - t0)
    sequential, loop_cpu = time.perf_counter() - started, time.process_time() - loop_cpu

    me = psutil.Process()
    driver_cpu = time.process_time()
    t0 = time.perf_counter()
    with ray_session(num_cpus=args.cpus):
        ray_start = time.perf_counter() - t0
        ray_processes = me.children(recursive=True)
        with tempfile.TemporaryDirectory() as tmp:
            began, started = time.time(), time.perf_counter()
            fits = shared_regime_fits(spec, base, prices, make_strategy)
            fitted = time.perf_counter() - started
            shared = partial(evaluate, regime_fits=fits or None)
            result = run_sweep(spec, base, partial(timed, evaluate=shared), storage=Path(tmp),
                               name="bench")
            fanned, ended = time.perf_counter() - started, time.time()
            driver_cpu = time.process_time() - driver_cpu
            ray_cpu = cpu_seconds(ray_processes)
    whole = ray_start + fanned
    trials = result.trials
    on_ray = {t.params[key]: t.metrics["sharpe"] for t in trials}
    same = all(abs(on_ray[v] - alone[v]) < 1e-12 for v in values)
    first = min(t.metrics["t_start"] for t in trials) - began
    born = min(t.metrics["born"] for t in trials) - clock_offset() - began
    tail = ended - max(t.metrics["t_end"] for t in trials)
    gaps = []
    for pid in {t.metrics["pid"] for t in trials}:
        mine = sorted((t.metrics["t_start"], t.metrics["t_end"]) for t in trials
                      if t.metrics["pid"] == pid)
        gaps += [b[0] - a[1] for a, b in zip(mine, mine[1:])]
    busy = sum(t.metrics["t_end"] - t.metrics["t_start"] for t in trials)
    worker_cpu = sum(max(t.metrics["cpu"] for t in trials if t.metrics["pid"] == pid)
                     for pid in {t.metrics["pid"] for t in trials})  # up to its last trial
    fixed = ray_start + first
    n_workers = len({t.metrics["pid"] for t in trials})
    nice = sorted({int(t.metrics["nice"]) for t in trials})
    print(f"{args.trials} {args.strategy} trials ({key} over {values[0]}..{values[-1]}; base "
          f"{base_file}), validation 2007-2014, fast engine; load {load_before} before, "
          f"{load()} after (1-, 5-, 15-min averages)")
    print(f"  one after another, one process : {sequential:7.1f} s "
          f"(a trial {min(each):.2f}-{max(each):.2f} s; the first builds the shared fits)")
    print(f"  {f'Ray, {args.cpus} CPUs, whole':31}: {whole:7.1f} s "
          f"(ray.init {ray_start:.1f} s + run_sweep {fanned:.1f} s)")
    print(f"  ratio, start included          : {whole / sequential:7.2f}  (target <= 0.6); "
          f"{whole / loop_cpu:.2f} against the loop's CPU time (its wall time undisturbed)")
    print(f"  fixed start                    : {fixed:7.1f} s (ray.init {ray_start:.2f} s, "
          f"the driver's shared fits {fitted:.2f} s and Tune's set-up to the first trial "
          f"actor's process {born - fitted:.2f} s, that process to its first trial "
          f"{first - born:.2f} s)")
    print(f"  ratio without the fixed start  : {(whole - fixed) / sequential:7.2f}")
    print(f"  overhead per task              : {np.mean(gaps) if gaps else float('nan'):7.3f} s "
          f"(gap between trials on a worker, mean of {len(gaps)}); end {tail:.2f} s")
    print(f"  trials' own time on Ray        : {busy:7.1f} s on {n_workers} workers at nice "
          f"{nice} ({busy / sum(each):.2f}x their time alone)")
    print(f"  CPU time while on Ray          : {driver_cpu + worker_cpu + ray_cpu:7.1f} s "
          f"(driver {driver_cpu:.1f}, trial workers {worker_cpu:.1f}, Ray's own processes "
          f"{ray_cpu:.1f}); the loop: {loop_cpu:.1f} s in {sequential:.1f} s of wall time")
    bound = (driver_cpu + worker_cpu + ray_cpu) / args.cpus / loop_cpu
    print(f"  {f'best case on {args.cpus} free cores':31}: {bound:7.2f}  (that CPU time spread "
          f"evenly over the CPUs, against the loop's CPU time)")
    print(f"  same Sharpe ratios both ways   : {same}")


if __name__ == "__main__":
    main()
