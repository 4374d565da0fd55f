"""`autoport train-agent`'s training call with the default settings, beside two references run
in the same process:

- **before**: the same call with this round's savings switched off (the env's full step info,
  which SB3 deep-copies every step, and SB3's train/eval mode walk before every action and
  update); same seed, so the same policy and test success;
- **bare SB3**: the same DQN (settings, steps) on a trivial env with the same observation size
  and actions, no evaluation: what the learner alone costs.

    python experiments/bench/bench_train_agent.py [--timesteps 40000] [--skip-before]

Prints wall and CPU seconds of each, the ratios, and the test success of each autoport run
(seed 0 must give the same figure in both). The decision menus are built (or read from
$AUTOPORT_HOME's cache) once before any timing, and said which; torch is imported and a 200-step run made before timing.
On a shared machine compare the CPU seconds: wall time moves with the other jobs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timesteps", type=int, default=None)
    parser.add_argument("--skip-before", action="store_true")
    args = parser.parse_args()

    import stable_baselines3  # noqa: F401 (import cost outside the timings)
    import torch  # noqa: F401

    from autoport import data
    from autoport.envs import features, menus
    from autoport.strategies.dqn import train as train_mod
    from autoport.strategies.dqn.config import load_config
    from autoport.envs import portfolio_env

    prices = data.bundled_prices()
    cfg = load_config(None, {"timesteps": args.timesteps})
    cached = (menus.cache_dir() / f"{menus.cache_key(prices, cfg.env)}.npz").exists()
    _, wall, _ = timed(lambda: menus.table(prices, cfg.env))
    print(f"menus: {wall:.1f} s ({'read from the disk cache' if cached else 'built and saved'}); "
          f"{cfg.timesteps} steps, seed {cfg.seed}")

    # first calls (lazy imports, the validation baselines' episodes) outside the timings
    train_mod.train(prices, cfg.model_copy(update={"timesteps": 200}))
    result, wall, cpu = timed(lambda: train_mod.train(prices, cfg))
    rows = [("autoport train() now", wall, cpu, result.test["success_rate"])]

    if not args.skip_before:
        init = portfolio_env.PortfolioEnv.__init__
        switch = train_mod._switch_mode_only_on_change

        def full_info(self, *a, **kw):
            kw["lean_info"] = False
            init(self, *a, **kw)

        portfolio_env.PortfolioEnv.__init__ = full_info
        train_mod._switch_mode_only_on_change = lambda policy: None
        try:
            before, wall, cpu = timed(lambda: train_mod.train(prices, cfg))
        finally:
            portfolio_env.PortfolioEnv.__init__ = init
            train_mod._switch_mode_only_on_change = switch
        rows.append(("autoport train() before", wall, cpu, before.test["success_rate"]))
        same = all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(
            result.mapper.model.policy.state_dict().values(),
            before.mapper.model.policy.state_dict().values(), strict=True))
        print(f"identical policy weights now and before: {same}")

    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from bench_env import Trivial, dqn_rate

    size = features.obs_size(prices.shape[1], cfg.env)
    trivial = Trivial(size, len(cfg.env.actions), horizon=12)
    _, wall, cpu = timed(lambda: dqn_rate(trivial, cfg, cfg.timesteps))
    rows.append(("bare SB3 DQN, trivial env", wall, cpu, float("nan")))

    now_wall, now_cpu = rows[0][1], rows[0][2]
    print(f"{'run':<28}{'wall s':>9}{'CPU s':>9}{'CPU / now':>11}{'test success':>14}")
    for name, wall, cpu, success in rows:
        print(f"{name:<28}{wall:>9.1f}{cpu:>9.1f}{cpu / now_cpu:>11.2f}{success:>14.1%}")
    print(f"now / bare SB3 (CPU): {now_cpu / rows[-1][2]:.2f}; wall now {now_wall:.1f} s")


if __name__ == "__main__":
    main()
