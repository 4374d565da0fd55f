"""A small, reproducible configuration search for the DQN allocator, selected on validation only.

    OMP_NUM_THREADS=1 /work/venv/bin/python experiments/dqn/search.py \
        [--timesteps 40000] [--out experiments/dqn/search_results.json]

Stage 1 trains every candidate below with seed 0 and scores it on the validation period
(2015-2017, 12 episodes of 63 sessions): success rate, ties broken by the mean Sharpe above
1/N (the same score ``train`` uses to pick its checkpoint). Stage 2 trains the two best
candidates and the current ``configs/dqn.yaml`` with seeds 1 and 2 as well and picks the
candidate with the best mean validation score over seeds 0, 1, 2. Only then are the test
figures (2018-2022) of the chosen candidate read and printed, seed by seed, beside the
current config's and the fixed baselines'. Test figures of every other run are discarded
unread: ``train`` computes them, the search never looks at them.

``current`` is ``configs/dqn.yaml`` with the search's step budget (``--timesteps``, 40,000);
``timesteps_60k`` is the file as it stood before this search (60,000 steps: SB3's exploration
schedule scales with the total, so the two differ before 40,000 steps too).

Result of ``python experiments/dqn/search.py --timesteps 40000`` (about 12 minutes on the
shared 2-core box; ``search_results.json`` beside this file): validation success, seed 0:
current 64%, regime 45%, gamma_0.5 45%, regime_gamma_0.5 45%, lr_1e-4_net_128 55%,
explore_0.5 55%, log_return_dd 36%, starts_on_schedule 55%, timesteps_60k 36%, gamma_0.99 55%,
no_defensive 64%, batch_128_target_500 36%. Finalists over seeds 0, 1, 2: current 64/64/64%,
no_defensive 64/45/55%. Chosen: current (40,000 steps). Its test success: 42%, 37%, 42%
(seeds 0, 1, 2) against max Sharpe 26%, min variance 32% and the 75% target.

Everything runs in one process so that the menus and the regime detector are computed once
(both are cached per process); the menus of every possible training start are warmed first.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

from autoport import data
from autoport.strategies.dqn.config import load_config
from autoport.strategies.dqn.train import train
from autoport.envs.portfolio_env import PortfolioEnv

ROOT = Path(__file__).resolve().parents[2]
CURRENT = "current"
# name -> overrides of configs/dqn.yaml (nested keys merge); at most 12 candidates
CANDIDATES: dict[str, dict] = {
    CURRENT: {},
    "regime": {"env": {"regime_features": True}},
    "gamma_0.5": {"dqn": {"gamma": 0.5}},
    "regime_gamma_0.5": {"env": {"regime_features": True}, "dqn": {"gamma": 0.5}},
    "lr_1e-4_net_128": {"dqn": {"learning_rate": 1e-4, "net_arch": [128, 128]}},
    "explore_0.5": {"dqn": {"exploration_fraction": 0.5, "exploration_final_eps": 0.02}},
    "log_return_dd": {"env": {"reward": "drawdown_penalty", "drawdown_penalty": 2.0}},
    "starts_on_schedule": {"env": {"train_starts": "schedule"}},
    "timesteps_60k": {"timesteps": 60_000},
    "gamma_0.99": {"dqn": {"gamma": 0.99}},
    "no_defensive": {"env": {"actions": ["equal_weight", "min_variance", "max_sharpe",
                                         "risk_parity", "inverse_vol", "momentum_tilt",
                                         "low_vol_tilt"]}},
    "batch_128_target_500": {"dqn": {"batch_size": 128, "target_update_interval": 500}},
}
assert len(CANDIDATES) <= 12


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def score(validation: dict) -> tuple[float, float]:
    return (validation["success_rate"], validation["mean_excess_sharpe"])


def run(prices, raw: dict, seed: int) -> dict:
    cfg = load_config(None, {**raw, "seed": seed})
    started = time.perf_counter()
    result = train(prices, cfg)
    v = result.validation
    return {
        "seed": seed,
        "validation_success_rate": v["success_rate"],
        "validation_mean_excess_sharpe": v["mean_excess_sharpe"],
        "validation_sharpe": v["sharpe"],
        "validation_switches_per_episode": v["switches_per_episode"],
        "validation_most_common": [v["most_common_action"], v["most_common_share"]],
        "timesteps": result.timesteps,
        "best_step": result.best_step,
        "seconds": time.perf_counter() - started,
        "_test": result.test,  # kept in memory only; read for the chosen candidate alone
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timesteps", type=int, default=40_000)
    parser.add_argument("--config", default=str(ROOT / "configs" / "dqn.yaml"))
    parser.add_argument("--out", default=str(ROOT / "experiments" / "dqn" / "search_results.json"))
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    base = load_config(args.config).model_dump(mode="json")
    base["timesteps"] = args.timesteps
    prices = data.bundled_prices()
    started = time.perf_counter()
    env = PortfolioEnv(prices, load_config(None, base).env, end=base["protocol"]["train_end"])
    for row in sorted(set(int(r) for r in env._starts) | set(int(r) for r in env._month_rows
                                                             if env._lo <= r <= env._hi)):
        env.menu_at(row)
    print(f"menus of every training start warmed in {time.perf_counter() - started:.0f} s",
          flush=True)

    runs: dict[str, list[dict]] = {}
    for name, over in CANDIDATES.items():
        runs[name] = [run(prices, merge(base, over), 0)]
        r = runs[name][0]
        print(f"stage 1 {name:>20}: validation success {r['validation_success_rate']:.0%}, "
              f"Sharpe - 1/N {r['validation_mean_excess_sharpe']:+.3f}, "
              f"{r['validation_switches_per_episode']:.1f} switches/episode, "
              f"{r['timesteps']} steps in {r['seconds']:.0f} s", flush=True)
    ranked = sorted(runs, key=lambda n: score({
        "success_rate": runs[n][0]["validation_success_rate"],
        "mean_excess_sharpe": runs[n][0]["validation_mean_excess_sharpe"]}), reverse=True)
    finalists = list(dict.fromkeys([*ranked[:2], CURRENT]))
    for name in finalists:
        for seed in (1, 2):
            r = run(prices, merge(base, CANDIDATES[name]), seed)
            runs[name].append(r)
            print(f"stage 2 {name:>20} seed {seed}: validation success "
                  f"{r['validation_success_rate']:.0%}, Sharpe - 1/N "
                  f"{r['validation_mean_excess_sharpe']:+.3f}", flush=True)

    def mean_score(name: str) -> tuple[float, float]:
        rs = runs[name]
        return (float(np.mean([r["validation_success_rate"] for r in rs])),
                float(np.mean([r["validation_mean_excess_sharpe"] for r in rs])))

    chosen = max(finalists, key=mean_score)
    print(f"chosen on validation (mean over seeds 0-2): {chosen} {mean_score(chosen)}; "
          f"current {mean_score(CURRENT)}", flush=True)
    # only now: the test figures of the chosen candidate (and of the current config, for the
    # comparison the report needs); every other run's test figures stay unread
    report = {}
    for name in dict.fromkeys([chosen, CURRENT]):
        rows = []
        for r in runs[name]:
            t = r["_test"]
            rows.append({"seed": r["seed"], "test_success_rate": t["success_rate"],
                         "test_sharpe": t["sharpe"], "test_max_drawdown": t["max_drawdown"],
                         "test_switches_per_episode": t["switches_per_episode"],
                         "test_action_distribution": t["action_distribution"],
                         "test_dominant_action": t["dominant_action"]})
            print(f"test {name:>20} seed {r['seed']}: success {t['success_rate']:.0%}, Sharpe "
                  f"{t['sharpe']:.3f}, max DD {t['max_drawdown']:.1%}, "
                  f"{t['switches_per_episode']:.1f} switches/episode, top action "
                  f"{t['most_common_action']} {t['most_common_share']:.0%}", flush=True)
        report[name] = rows
    baselines = runs[CURRENT][0]["_test"]["baselines"]
    for b, f in baselines.items():
        print(f"test baseline {b:>13}: success {f['success_rate']:.0%}, Sharpe {f['sharpe']:.3f}")
    out = {
        "command": " ".join(["python", *sys.argv]),
        "timesteps": args.timesteps,
        "candidates": CANDIDATES,
        "validation": {n: [{k: v for k, v in r.items() if k != "_test"} for r in rs]
                       for n, rs in runs.items()},
        "chosen": chosen,
        "chosen_mean_validation": mean_score(chosen),
        "current_mean_validation": mean_score(CURRENT),
        "test": report,
        "test_baselines": baselines,
    }
    Path(args.out).write_text(json.dumps(out, indent=2, default=str))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
