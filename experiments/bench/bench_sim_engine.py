"""``autoport backtest --engine sim`` against the zipline engine on the same config, same process.

    .venv/bin/python experiments/bench/bench_sim_engine.py [--strategy mpt,regime|all]
        [--start D] [--end D] [--model URI] [--repeat N] [--no-warmup] [--profile]

For each strategy, runs :func:`autoport.backtest.run_backtest` (the strategy and the 1/N
baseline, as the CLI does) through the fast simulator and then through zipline on the bundled
prices, after ingesting the zipline bundle and importing the metrics' libraries once (not
timed), and after importing each strategy's module once (the registry imports a strategy's
module, and cvxpy or torch with it, when the strategy is first made; not timed either). Each
run builds its own strategy objects, so neither engine reuses the other's work:
MPT's warm starts, the regime strategy's and the autopilot's feature streams, regime filters
and hysteresis walks, and the DQN's menu builder all live in the strategy object; nothing they
keep goes to disk (the env's menu table cache is not used by a backtest). Prints each engine's
wall time, the ratio, the time spent in the strategies' ``decide`` (the strategy's and 1/N's)
and the rest (the engine) per session, and the largest daily return difference between the two
(strategy and 1/N), then the engines' ratio with the decisions left out and the bound the
decisions put on any engine: an engine that runs the same decisions (the only way to equal
zipline within 1e-8 a day) cannot be faster than zipline's time over the decisions' time.
For the regime and autopilot strategies it also prints the time their online regime filter's
model fits (refits on its yearly grid, the first decision's catch-up included) took inside the
sim run's decisions, and the bound those fits alone put on any engine.

Before its pairs, each strategy runs once on each engine over the panel's last 300 sessions,
untimed (``--no-warmup``: not): the process's first calls (BLAS buffers, torch's first forward,
zipline's readers) otherwise land in the first pair's sim run, which runs first.
``--repeat N`` runs each pair N times (each with fresh strategies) and prints the median
ratio too: on a shared machine one pair's ratio moves by 2x with the other jobs.
``--profile`` then runs the sim engine once more (fresh strategies, not timed) under cProfile and
prints its 30 costliest calls by cumulative time: where a decision's time goes.

``dqn`` without ``--model`` is an untrained, seeded policy on the default env settings: the
engines' cost per decision (observation, menu, forward pass) is a trained policy's.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from autoport import data
from autoport.backtest import load_config, run_backtest
from autoport.engines import zipline_engine
from autoport.strategies import make_strategy
from autoport.strategies.registry import strategy_class

ALL = ("equal_weight", "mpt", "regime", "dqn", "autopilot")


def untrained_dqn(prices):
    """``make_strategy`` with ``dqn`` as a seeded, untrained policy over ``prices``' tickers."""
    from stable_baselines3 import DQN

    from autoport.envs import EnvConfig
    from autoport.envs.portfolio_env import PortfolioEnv
    from autoport.strategies.dqn import DQNPolicy
    from autoport.strategies.dqn.policy import PolicyMapper

    cfg = EnvConfig()
    env = PortfolioEnv(prices.iloc[: cfg.history_needed + 2 * cfg.episode_length], cfg)
    mapper = PolicyMapper(DQN("MlpPolicy", env, seed=0, device="cpu", learning_starts=0),
                          cfg, list(prices.columns))

    def make(name, **params):
        return DQNPolicy(mapper=mapper) if name == "dqn" else make_strategy(name, **params)
    return make


class RefitClock:
    """Adds the time of every regime-model fit (the online filter's refits: HMM or jump model)
    to ``spent`` while in a ``with`` block; those fits run inside the regime and autopilot
    strategies' decisions and cost the same on either engine."""

    def __init__(self):
        self.spent, self.count, self._saved = 0.0, 0, []

    def __enter__(self):
        from autoport.regime import models

        for cls in (models.HMMDetector, models.JumpDetector):
            fit = cls.fit
            self._saved.append((cls, fit))

            def timed(detector, *args, _fit=fit, **kwargs):
                t0 = time.perf_counter()
                try:
                    return _fit(detector, *args, **kwargs)
                finally:
                    self.spent += time.perf_counter() - t0
                    self.count += 1
            cls.fit = timed
        return self

    def __exit__(self, *exc):
        for cls, fit in self._saved:
            cls.fit = fit


class Timed:
    """Wraps a strategy factory: every strategy it makes adds its ``decide`` time to ``spent``."""

    def __init__(self, factory):
        self.factory, self.spent = factory, 0.0

    def __call__(self, name, **params):
        strategy = self.factory(name, **params)
        decide = strategy.decide

        def timed(history, book=None):
            t0 = time.perf_counter()
            try:
                return decide(history, book)
            finally:
                self.spent += time.perf_counter() - t0
        strategy.decide = timed
        return strategy


def _pair(name, cfg, prices, factory) -> float:
    """One sim run and one zipline run of ``cfg`` (fresh strategies each); prints, returns the
    ratio of their wall times."""
    times, outcomes, decide, refits = {}, {}, {}, {}
    for engine in ("sim", "zipline"):
        timed = Timed(factory)
        with RefitClock() as clock:
            t0 = time.perf_counter()
            outcomes[engine] = run_backtest(cfg, prices, make_strategy=timed, engine=engine)
            times[engine] = time.perf_counter() - t0
        decide[engine], refits[engine] = timed.spent, clock
    zp, sim = outcomes["zipline"], outcomes["sim"]
    sessions = len(zp.strategy.returns)
    diff = max(np.abs(a.returns.to_numpy() - b.returns.to_numpy()).max()
               for a, b in ((zp.strategy, sim.strategy), (zp.baseline, sim.baseline)))
    print(f"{name} and 1/N, {zp.start.date()} to {zp.end.date()} ({sessions} sessions, "
          f"{len(zp.strategy.records)} decisions, capital {cfg.capital:,.0f})")
    print(f"  zipline {times['zipline']:.2f} s, sim {times['sim']:.2f} s: "
          f"sim is {times['zipline'] / times['sim']:.1f}x faster; "
          f"max daily return difference {diff:.2e}")
    for engine in ("zipline", "sim"):
        rest = times[engine] - decide[engine]
        print(f"  {engine}: decisions {decide[engine]:.2f} s "
              f"({decide[engine] / len(zp.strategy.records) * 1e3:.1f} ms each), engine "
              f"{rest:.2f} s ({rest / sessions * 1e3:.2f} ms a session)", flush=True)
    engine_only = (times["zipline"] - decide["zipline"]) / (times["sim"] - decide["sim"])
    print(f"  engines alone (decisions left out): sim is {engine_only:.0f}x faster; with these "
          f"decisions no engine can be more than {times['zipline'] / decide['sim']:.1f}x faster "
          "than this zipline run (the zipline time over the decisions' time)", flush=True)
    fits = refits["sim"]
    if fits.count:
        print(f"  of the sim run's decisions, {fits.count} regime-model fits took "
              f"{fits.spent:.2f} s: with everything else free, no engine running them can be "
              f"more than {times['zipline'] / fits.spent:.1f}x faster than this zipline run",
              flush=True)
    return times["zipline"] / times["sim"]


def _warm_up(cfg, prices, factory) -> None:
    """One untimed run on each engine over the panel's last 300 sessions, fresh strategies: the
    process's first calls (BLAS buffers, torch's first forward, zipline's calendar and bundle
    readers) otherwise land in whichever engine runs first, the sim run of the first pair
    (a DQN sim run took 0.42 s cold and 0.23-0.25 s after). Nothing a timed run reads is kept:
    each timed run builds its own strategies."""
    short = cfg.model_copy(update={"start": prices.index[-300].date(),
                                   "end": prices.index[-1].date()})
    t0 = time.perf_counter()
    for engine in ("sim", "zipline"):
        run_backtest(short, prices, make_strategy=factory, engine=engine)
    print(f"  warm-up (untimed in the pairs): both engines on {short.start}..{short.end}, "
          f"{time.perf_counter() - t0:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--strategy", default="equal_weight",
                        help=f"comma-separated, or all ({', '.join(ALL)})")
    parser.add_argument("--start", default=None)
    parser.add_argument("--end", default=None)
    parser.add_argument("--model", default=None, help="dqn: runs:/RUN_ID/model")
    parser.add_argument("--repeat", type=int, default=1, help="pairs per strategy")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="time the first pair cold (the process's first calls included)")
    parser.add_argument("--profile", action="store_true",
                        help="profile one more sim run of each strategy (not timed)")
    args = parser.parse_args()
    names = ALL if args.strategy == "all" else tuple(args.strategy.split(","))
    prices = data.bundled_prices()
    zipline_engine.ensure_bundle(prices)  # the one-off ingestion is not what is compared
    import empyrical  # noqa: F401  (imported lazily by the first metrics call of either engine)
    import pyfolio.txn  # noqa: F401

    for name in names:
        strategy_class(name)  # its module's one-off import is not what is compared
        params = {"model_uri": args.model} if name == "dqn" and args.model else {}
        factory = untrained_dqn(prices) if name == "dqn" and not args.model else make_strategy
        cfg = load_config(None, {"strategy": name, "start": args.start, "end": args.end,
                                 "strategy_params": params})
        if args.warmup:
            _warm_up(cfg, prices, factory)
        ratios = []
        for _ in range(args.repeat):
            ratios.append(_pair(name, cfg, prices, factory))
        if args.repeat > 1:
            print(f"  median of {args.repeat} pairs: sim is {float(np.median(ratios)):.1f}x "
                  f"faster (each: {', '.join(f'{r:.1f}x' for r in ratios)})", flush=True)
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(run_backtest, cfg, prices, make_strategy=factory, engine="sim")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
