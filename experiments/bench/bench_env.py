"""Environment overhead: SB3 DQN training throughput on autoport/Portfolio-v0 against the same
DQN on a trivial env with the same observation size and action count.

    /work/venv/bin/python experiments/bench/bench_env.py [--steps 5000]

Prints env-only steps/s, DQN training steps/s on both envs, and the ratio trivial/portfolio
(1.0 = the env costs nothing next to the learner). Menus are built once before timing (the
one-off warm-up is printed too: every session's menu of the panel in one batch, which training
pays once per panel and settings, then reads from $AUTOPORT_HOME's cache).
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from autoport import data
from autoport.strategies.dqn.config import load_config
from autoport.envs import menus
from autoport.envs.portfolio_env import PortfolioEnv


class Trivial(gym.Env):
    """Constant observations, zero reward, the same episode length in steps."""

    def __init__(self, obs_size: int, n_actions: int, horizon: int) -> None:
        self.observation_space = spaces.Box(-10, 10, shape=(obs_size,), dtype=np.float32)
        self.action_space = spaces.Discrete(n_actions)
        self._obs = np.zeros(obs_size, dtype=np.float32)
        self._horizon, self._t = horizon, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self._obs, {}

    def step(self, action):
        self._t += 1
        return self._obs, 0.0, False, self._t >= self._horizon, {}


def dqn_rate(env: gym.Env, config, steps: int) -> float:
    from stable_baselines3 import DQN

    d = config.dqn
    model = DQN("MlpPolicy", env, policy_kwargs={"net_arch": list(d.net_arch)},
                learning_rate=d.learning_rate, buffer_size=d.buffer_size,
                learning_starts=min(d.learning_starts, steps // 2), batch_size=d.batch_size,
                gamma=d.gamma, train_freq=d.train_freq, gradient_steps=d.gradient_steps,
                target_update_interval=d.target_update_interval, seed=0, device="cpu")
    started = time.perf_counter()
    model.learn(total_timesteps=steps)
    return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--config", default="configs/dqn.yaml")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config(args.config)
    prices = data.bundled_prices()
    env = PortfolioEnv(prices, config.env, end=str(config.protocol.train_end))
    started = time.perf_counter()
    if config.env.schedule == "month_start":
        rows = [r for r in env._month_rows if env._lo <= r <= env._hi]
        steps_per_episode = round(config.env.episode_length / 21)
    else:
        rows = range(env._lo, env._hi + 1, config.env.rebalance_every)
        steps_per_episode = config.env.episode_length // config.env.rebalance_every
    # training episodes may open on any session (train_starts: any_session): their first
    # menus are part of the warm-up too, so the timed loop measures the steady state
    rows = sorted(set(rows) | set(int(r) for r in env._starts))
    # every session's menu is built in one batch (never read from the disk cache here, so
    # the build itself is timed); experiments/bench/bench_menus.py compares it with the old
    # per-session build
    menus.clear_process_cache()
    table = menus.table(env.prices, config.env, use_disk=False)
    for row in rows:
        env.menu_at(row)
    print(f"menu warm-up: {len(table.menus)} sessions (the {len(rows)} decision sessions "
          f"included) in {time.perf_counter() - started:.1f} s")
    env.reset(seed=0)
    env.action_space.seed(0)
    n = 20_000
    started = time.perf_counter()
    for _ in range(n):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            env.reset()
    raw = n / (time.perf_counter() - started)
    print(f"env alone (random actions): {raw:,.0f} steps/s "
          f"({1e6 / raw:.0f} us per step of ~21 sessions)")
    trivial = Trivial(env.observation_space.shape[0], env.action_space.n, steps_per_episode)
    fast = dqn_rate(trivial, config, args.steps)
    real = dqn_rate(env, config, args.steps)
    print(f"SB3 DQN on trivial env (obs {env.observation_space.shape[0]}): {fast:,.0f} steps/s")
    print(f"SB3 DQN on Portfolio-v0:                    {real:,.0f} steps/s")
    print(f"ratio trivial / portfolio: {fast / real:.3f} "
          f"(env share of training time ~{max(0.0, 1 - real / fast):.0%})")


if __name__ == "__main__":
    main()
