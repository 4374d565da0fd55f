"""The regime strategy's and the DQN's decisions: the per-decision rebuilds they did before issue
13 item 3 beside the continued paths they use now, same process, alternating.

    .venv/bin/python experiments/bench/bench_decision_paths.py [--start D] [--repeat N]
        [--paths regime,dqn,dqn-item3]

Each run is ``run_backtest`` of the strategy and 1/N through the sim engine (the engine costs
~0.1 ms a session, so the time is the decisions'), with fresh strategy objects:

- regime, before: the detector's features rebuilt over the whole history and the hysteresis
  walked over the whole probability path at each decision (``build_features``,
  ``hysteresis``); now: :class:`FeatureStream` and :class:`Hysteresis` continued;
- dqn (untrained, seeded, as ``bench_sim_engine.py``), before: each decision's menu built cold
  (``menus.menu_weights``); now: one ``SessionMenus`` warm-started from the previous decision;
- dqn-item3: the DQN's decision path before issue 13 item 3's second pass (SB3's ``predict``
  for the action; settles changing one condition at a time; max Sharpe walking the whole path
  where the previous peak's active set has no peak) beside the one now (the Q-network called
  directly, many-change settles, a second settle through the previous peak's λ). The smaller
  changes of that pass (index blocks by ``take``, the strategy's numpy book state) are in both.

Prints each run's wall time, the median ratio, and whether the daily returns and the decision
records are identical.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from autoport import data
from autoport.backtest import load_config, run_backtest
from autoport.optimize import _homotopy
from autoport.optimize.warm import WarmPath
from autoport.regime.features import build_features
from autoport.regime.hysteresis import hysteresis
from autoport.strategies import make_strategy
from autoport.strategies.regime_switching import RegimeSwitching

from bench_sim_engine import untrained_dqn


class RebuiltRegimes(RegimeSwitching):
    """The regime strategy with its features and hysteresis rebuilt at every decision."""

    def regimes(self, history):
        if self.logged is not None:
            return super().regimes(history)
        feats = build_features(history, **self.config.detector.feature_kwargs())
        probs = self._online.sync(feats)
        s = self.config.strategy
        return probs, hysteresis(probs, threshold=s.threshold, hold_days=s.hold_days,
                                 min_hold=s.min_hold), self._online.last_fit


class ColdMenus:
    """A ``SessionMenus`` stand-in that builds every menu cold, as ``menu_weights`` does."""

    def __init__(self, config):
        self.config = config

    def __call__(self, history, array=None):
        from autoport.envs import menus

        return menus.menu_weights(history, self.config)


class OldWarmPath(WarmPath):
    """The menus' warm start before issue 13 item 3's second pass."""

    batch = False

    def _max_sharpe(self, mu, cov, start, rows, rf):
        return _homotopy.settle(mu, cov, self.r, start, rows, lam=None, rf=rf, batch=False)


class OldMenus:
    """A ``SessionMenus`` whose builders solve on :class:`OldWarmPath`."""

    def __init__(self, config):
        from autoport.envs import menus

        self.inner = menus.SessionMenus(config)

    def __call__(self, history, array=None):
        from autoport.envs import menus

        real, menus.WarmPath = menus.WarmPath, OldWarmPath
        try:
            return self.inner(history, array)
        finally:
            menus.WarmPath = real


def predict_mapper(mapper):
    """A copy of ``mapper`` whose action goes through SB3's ``predict``, as before."""
    import copy

    class PredictMapper(type(mapper)):
        def action(self, obs):
            action, _ = self.model.predict(np.asarray(obs, dtype=np.float32),
                                           deterministic=True)
            return int(action)

    old = copy.copy(mapper)
    old.__class__ = PredictMapper
    return old


def factories(prices):
    dqn = untrained_dqn(prices)

    def regime_now(name, **params):
        return make_strategy(name, **params)

    def regime_before(name, **params):
        return RebuiltRegimes(**params) if name == "regime" else make_strategy(name, **params)

    def dqn_before(name, **params):
        strategy = dqn(name, **params)
        if name == "dqn":
            strategy._menus = ColdMenus(strategy.config)
        return strategy

    def dqn_item3_before(name, **params):
        strategy = dqn(name, **params)
        if name == "dqn":
            strategy._menus = OldMenus(strategy.config)
            strategy.policy = predict_mapper(strategy.policy)
        return strategy

    return {"regime": (regime_before, regime_now), "dqn": (dqn_before, dqn),
            "dqn-item3": (dqn_item3_before, dqn)}


def _records(outcome) -> list[str]:
    return [json.dumps(r, default=str, sort_keys=True) for r in outcome.strategy.records]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", default="2015-01-01")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--paths", default="regime,dqn,dqn-item3",
                        help="comma-separated: regime, dqn, dqn-item3")
    args = parser.parse_args()
    prices = data.bundled_prices()
    import empyrical  # noqa: F401  (the metrics' first import is not what is compared)
    import pyfolio.txn  # noqa: F401

    for name, (before, now) in factories(prices).items():
        if name not in args.paths.split(","):
            continue
        cfg = load_config(None, {"strategy": name.split("-")[0], "start": args.start})
        times = {"before": [], "now": []}
        outs = {}
        for _ in range(args.repeat):
            for label, factory in (("before", before), ("now", now)):
                t0 = time.perf_counter()
                outs[label] = run_backtest(cfg, prices, make_strategy=factory, engine="sim")
                times[label].append(time.perf_counter() - t0)
        same = (np.array_equal(outs["before"].strategy.returns.to_numpy(),
                               outs["now"].strategy.returns.to_numpy())
                and _records(outs["before"]) == _records(outs["now"]))
        b, n = statistics.median(times["before"]), statistics.median(times["now"])
        print(f"{name} + 1/N through the sim engine, {len(outs['now'].strategy.records)} "
              f"decisions: before {b:.2f} s, now {n:.2f} s (medians of {args.repeat}; "
              f"{', '.join(f'{x:.2f}' for x in times['before'])} / "
              f"{', '.join(f'{x:.2f}' for x in times['now'])}): {b / n:.1f}x; identical "
              f"returns and records: {same}", flush=True)


if __name__ == "__main__":
    main()
