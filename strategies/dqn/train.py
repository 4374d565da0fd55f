"""Train the DQN allocator: seeded SB3 DQN on training episodes, model selection on the
validation period with early stopping, then one evaluation on the held-out test period.

Pure of side effects apart from SB3's optional progress bar: no files, no MLflow (the CLI logs).
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autoport.strategies.dqn.config import AgentConfig, parse_config
from autoport.strategies.dqn.evaluate import baseline_episodes, evaluate_policy
from autoport.strategies.dqn.policy import PolicyMapper
from autoport.envs.portfolio_env import PortfolioEnv
from autoport.errors import DataError


@dataclass
class TrainingResult:
    mapper: PolicyMapper
    config: AgentConfig
    timesteps: int  # environment steps actually taken (early stopping may cut them)
    best_step: int
    wall_seconds: float
    validation_curve: list[dict[str, float]] = field(default_factory=list)
    train_curve: list[tuple[int, float]] = field(default_factory=list)  # (step, episode reward)
    validation: dict[str, Any] = field(default_factory=dict)  # best model on validation
    test: dict[str, Any] = field(default_factory=dict)


def _score(result: dict[str, Any]) -> tuple[float, float]:
    """Model selection: validation success rate, ties broken by mean Sharpe over 1/N."""
    return (result["success_rate"], result["mean_excess_sharpe"])


@contextlib.contextmanager
def deterministic_torch(seed: int) -> Iterator[None]:
    """Everything that decides a run's numbers, pinned while it trains, restored after.

    Python's, numpy's and torch's generators seeded (SB3's ``set_random_seed``); one torch
    thread (a reduction split over threads sums in another order); torch's deterministic
    kernels; one BLAS thread (:mod:`autoport._blas`) for the env's numpy. The caller's
    ``OMP_NUM_THREADS`` or an earlier ``torch.set_num_threads`` cannot change the result.
    """
    import torch
    from stable_baselines3.common.utils import set_random_seed

    from autoport._blas import single_threaded_blas

    threads = torch.get_num_threads()
    strict = torch.are_deterministic_algorithms_enabled()
    set_random_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        with single_threaded_blas():
            yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(strict)


def _switch_mode_only_on_change(policy) -> None:
    """SB3 flips the policy between train and eval mode before every action and every update
    (a walk over all submodules each time: ~15% of a default run). Walk only on a change; the
    flags end up the same, and the MLP has no mode-dependent layer anyway."""
    switch = policy.set_training_mode

    def set_training_mode(mode: bool) -> None:
        if policy.training != mode:
            switch(mode)

    policy.set_training_mode = set_training_mode


def _callbacks(prices, config, mapper, on_eval):
    from stable_baselines3.common.callbacks import BaseCallback

    validation_baselines = baseline_episodes(prices, config, "validation")

    class Validation(BaseCallback):
        """Evaluate on validation every ``eval_freq`` steps; keep the best weights; stop after
        ``patience`` evaluations without improvement (never before ``min_evals``)."""

        def __init__(self) -> None:
            super().__init__()
            self.best: tuple[float, float] | None = None
            self.best_state = None
            self.best_step = 0
            self.best_result: dict[str, Any] = {}
            self.stale = 0
            self.curve: list[dict[str, float]] = []

        def evaluate(self) -> bool:
            result = evaluate_policy(prices, config, mapper.action, period="validation",
                                     baselines=validation_baselines)
            score = _score(result)
            point = {"step": self.num_timesteps, "success_rate": result["success_rate"],
                     "mean_excess_sharpe": result["mean_excess_sharpe"],
                     "sharpe": result["sharpe"], "switch_rate": result["switch_rate"],
                     "most_common_share": result["most_common_share"]}
            self.curve.append(point)
            if on_eval is not None:
                on_eval(point)
            if self.best is None or score > self.best:
                self.best, self.best_step, self.best_result = score, self.num_timesteps, result
                self.best_state = copy.deepcopy(self.model.policy.state_dict())
                self.stale = 0
            else:
                self.stale += 1
            v = config.validation
            return not (len(self.curve) >= v.min_evals and self.stale >= v.patience)

        def _on_step(self) -> bool:
            if self.n_calls % config.validation.eval_freq == 0:
                return self.evaluate()
            return True

    class Curve(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.points: list[tuple[int, float]] = []

        def _on_step(self) -> bool:
            for info in self.locals.get("infos", []):
                if "episode" in info:
                    self.points.append((self.num_timesteps, float(info["episode"]["r"])))
            return True

    return Validation(), Curve()


def train(
    prices: pd.DataFrame,
    config: AgentConfig | dict | None = None,
    *,
    progress_bar: bool = False,
    on_eval: Callable[[dict[str, float]], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
    evaluate_test: bool = True,
) -> TrainingResult:
    """Train on sessions up to ``protocol.train_end``; select on validation; test once.

    ``evaluate_test=False`` (a sweep's trials): the test period is not evaluated at all, so a
    search cannot read it; ``test`` stays empty.
    ``on_phase(text)`` is told when the final test evaluation starts (a progress line)."""
    config = parse_config(config)
    if list(prices.columns) != sorted(set(prices.columns), key=list(prices.columns).index):
        raise DataError("prices hold duplicate tickers")
    train_end = pd.Timestamp(config.protocol.train_end)
    if prices.index[0] >= train_end:
        raise DataError(f"no training data: prices start {prices.index[0].date()}, after "
                        f"train_end {train_end.date()}")
    with deterministic_torch(config.seed):
        return _train(prices, config, train_end, progress_bar, on_eval, on_phase, evaluate_test)


def _train(prices, config, train_end, progress_bar, on_eval, on_phase,
           evaluate_test) -> TrainingResult:
    from stable_baselines3 import DQN
    from stable_baselines3.common.monitor import Monitor

    env = Monitor(PortfolioEnv(prices, config.env, end=train_end, lean_info=True))
    d = config.dqn
    model = DQN(
        "MlpPolicy", env, policy_kwargs={"net_arch": list(d.net_arch)},
        learning_rate=d.learning_rate, buffer_size=d.buffer_size,
        learning_starts=d.learning_starts, batch_size=d.batch_size, gamma=d.gamma,
        train_freq=d.train_freq, gradient_steps=d.gradient_steps,
        target_update_interval=d.target_update_interval,
        exploration_fraction=d.exploration_fraction,
        exploration_initial_eps=d.exploration_initial_eps,
        exploration_final_eps=d.exploration_final_eps, max_grad_norm=d.max_grad_norm,
        seed=config.seed, device="cpu", verbose=0,
    )
    _switch_mode_only_on_change(model.policy)
    mapper = PolicyMapper(model, config.env, list(prices.columns),
                          seen_until=config.protocol.validation_end)
    validation, curve = _callbacks(prices, config, mapper, on_eval)
    started = time.perf_counter()
    model.learn(total_timesteps=config.timesteps, callback=[validation, curve],
                progress_bar=progress_bar)
    if not validation.curve or validation.curve[-1]["step"] != model.num_timesteps:
        validation.evaluate()  # the final weights compete too
    model.policy.load_state_dict(validation.best_state)
    wall = time.perf_counter() - started
    if evaluate_test and on_phase is not None:
        on_phase("evaluating the selected policy on the test period")
    test = (evaluate_policy(prices, config, mapper.action, period="test")
            if evaluate_test else {})
    return TrainingResult(
        mapper=mapper, config=config, timesteps=int(model.num_timesteps),
        best_step=validation.best_step, wall_seconds=wall,
        validation_curve=validation.curve, train_curve=curve.points,
        validation=validation.best_result, test=test,
    )


def q_values(mapper: PolicyMapper, obs: np.ndarray) -> np.ndarray:
    """Q-values of the online network for a batch of observations (for tests and reports)."""
    import torch

    with torch.no_grad():
        tensor = torch.as_tensor(np.atleast_2d(obs), dtype=torch.float32)
        return mapper.model.q_net(tensor).numpy()
