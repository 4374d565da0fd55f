"""A DQN backtest's cost against its length: the book handed by the engine (now) against the
book the strategy used to rebuild by replaying the simulator from its first decision (the
reference, kept below as it was).

    .venv/bin/python experiments/bench/bench_dqn_backtest.py [--short 250] [--long 1000]

Both strategies are the same untrained, seeded DQN policy driven by the fast engine with daily
decisions over the bundled prices, once over ``--short`` sessions and once over ``--long``; the
menu holds only items without a solver (1/N, inverse volatility, the two tilts), so what a
decision costs beyond a constant is its book. It
prints the mean time per decision over each run's last 50 decisions and the total, and checks
that both take the same actions. Linear: the per-decision time stays flat as the run grows;
the replay's grows with the decision index (quadratic total).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from autoport import data
from autoport.engines import simulator
from autoport.envs.config import EnvConfig
from autoport.strategies.dqn import DQNPolicy

ACTIONS = ("equal_weight", "inverse_vol", "momentum_tilt", "low_vol_tilt")


class ReplayDQN(DQNPolicy):
    """The reference: the book rebuilt from the strategy's own past decisions on every call."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._decided: dict[pd.Timestamp, np.ndarray] = {}

    def _book_state(self, history, book):  # the code before the engine handed the book
        today = history.index[-1]
        past = {d: w for d, w in self._decided.items() if d < today}
        if not past:
            return np.zeros(history.shape[1]), 0.0
        window = history.loc[min(past):]
        rows = {window.index.get_loc(d): w for d, w in past.items()}
        run = simulator.simulate(window.to_numpy(), rows, self.config.costs)
        recent = run.values[-(self.config.episode_length + 1):]
        return run.weights[-1], float(1.0 - recent[-1] / recent.max())

    def decide(self, history, book=None):
        decision = super().decide(history, book)
        self._decided[history.index[-1]] = decision.weights.to_numpy()
        return decision


class Timed:
    """Records the wall time of each decision of the wrapped strategy."""

    def __init__(self, strategy) -> None:
        self.strategy, self.times = strategy, []
        self.name, self.min_history = strategy.name, strategy.min_history

    def decide(self, history, book=None):
        t0 = time.perf_counter()
        out = self.strategy.decide(history, book)
        self.times.append(time.perf_counter() - t0)
        return out


def _mapper(prices: pd.DataFrame):
    from stable_baselines3 import DQN

    from autoport.envs.portfolio_env import PortfolioEnv
    from autoport.strategies.dqn.policy import PolicyMapper

    cfg = EnvConfig(actions=ACTIONS, estimation_window=60, episode_length=252)
    env = PortfolioEnv(prices, cfg, episode_starts=[prices.index[400]], episode_length=100)
    model = DQN("MlpPolicy", env, seed=0, device="cpu", learning_starts=10,
                policy_kwargs={"net_arch": [16]})
    return PolicyMapper(model, cfg, list(prices.columns))


def _run(strategy_cls, mapper, prices, start, sessions):
    timed = Timed(strategy_cls(mapper=mapper))
    index = prices.index
    first = index.get_loc(start)
    end = index[first + sessions - 1]
    run = simulator.run(timed, prices, start=start, end=end, rebalance="every_day",
                        costs=mapper.env_config.costs)
    return np.asarray(timed.times), [d.details["action"] for d in run.decisions]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--short", type=int, default=250)
    parser.add_argument("--long", type=int, default=1000)
    args = parser.parse_args()
    prices = data.bundled_prices()
    mapper = _mapper(prices)
    start = prices.index[mapper.env_config.history_needed + 10]
    rows = []
    for sessions in (args.short, args.long):
        new_t, new_a = _run(DQNPolicy, mapper, prices, start, sessions)
        old_t, old_a = _run(ReplayDQN, mapper, prices, start, sessions)
        same = sum(a == b for a, b in zip(new_a, old_a, strict=True))
        rows.append((sessions, new_t, old_t, same, len(new_a)))
    print(f"{'decisions':>9} {'book: ms/decision (last 50)':>28} {'replay: ms/decision':>20} "
          f"{'replay/book':>11} {'book total s':>12} {'replay total s':>14} same actions")
    for sessions, new_t, old_t, same, n in rows:
        new_ms, old_ms = 1e3 * new_t[-50:].mean(), 1e3 * old_t[-50:].mean()
        print(f"{sessions:>9} {new_ms:>28.2f} {old_ms:>20.2f} {old_ms / new_ms:>11.2f} "
              f"{new_t.sum():>12.2f} {old_t.sum():>14.2f} {same}/{n}")
    (s0, n0, o0, *_), (s1, n1, o1, *_) = rows
    book, replay = n1[-50:].mean() / n0[-50:].mean(), o1[-50:].mean() / o0[-50:].mean()
    print(f"per-decision time at the end, long/short run: book {book:.2f}x, replay "
          f"{replay:.2f}x (length ratio {s1 / s0:.1f}x)")


if __name__ == "__main__":
    main()
