"""A trained DQN allocator as a strategy: same observation and menu as in training.

The policy observes its own book (value weights and drawdown over at most a training
episode's length). A
strategy is only handed prices, so it rebuilds that book from its past decisions with the fast
simulator, whose bookkeeping matches zipline's (see ``tests/test_env_simulator.py``); costs are
the ones the model was trained with.

With ``regime_features`` the observation also holds the detector's filtered regime
probabilities on the decision date, from the history alone
(:class:`autoport.envs.features.OnlineRegimes`: the same numbers as the env's
``detect`` run over the whole panel, fits cached across decisions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autoport.engines import simulator
from autoport.errors import ConfigError
from autoport.strategies.base import Decision


class DQNPolicy:
    name = "dqn"

    def __init__(self, *, model_uri: str | None = None, mapper=None) -> None:
        """``model_uri`` of a logged policy, or (tests, notebooks) a ``PolicyMapper``."""
        if not model_uri and mapper is None:
            raise ConfigError(
                "strategy dqn needs a model: pass --model runs:/RUN_ID/model or "
                "models:/NAME@alias (from autoport train-agent)"
            )
        if mapper is None:
            from autoport.strategies.dqn.policy import load_policy

            mapper = load_policy(model_uri)
        self.model_uri = model_uri
        self.policy = mapper
        self.config = self.policy.env_config
        # the last date the model was trained or selected on: backtests start after it
        seen = getattr(self.policy, "seen_until", None)
        self.seen_until = pd.Timestamp(seen) if seen is not None else None
        self.min_history = self.config.history_needed
        self._decided: dict[pd.Timestamp, np.ndarray] = {}
        self._regimes = None

    def _book_state(self, history: pd.DataFrame) -> tuple[np.ndarray, float]:
        """Value weights and drawdown of this strategy's own book at the last close."""
        today = history.index[-1]
        past = {d: w for d, w in self._decided.items() if d < today}
        if not past:
            return np.zeros(history.shape[1]), 0.0
        window = history.loc[min(past):]
        rows = {window.index.get_loc(d): w for d, w in past.items()}
        run = simulator.simulate(window.to_numpy(), rows, self.config.costs)
        # training episodes measure drawdown from their start, at most episode_length
        # sessions back; a long backtest would otherwise feed drawdowns never seen in training
        recent = run.values[-(self.config.episode_length + 1):]
        return run.weights[-1], float(1.0 - recent[-1] / recent.max())

    def observe(self, history: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, float,
                                                      np.ndarray | None]:
        """The policy's observation at ``history``'s last close, from ``history`` only:
        ``(obs, menu, drawdown, regime probabilities or None)``."""
        from autoport.envs import features

        self.policy.check_tickers(list(history.columns))
        weights_now, drawdown = self._book_state(history)
        menu = features.menu_weights(history, self.config)
        rets = features.log_returns(history.to_numpy(), self.config)
        regime = None
        if self.config.regime_features:
            if self._regimes is None:
                self._regimes = features.OnlineRegimes(self.config.regime_detector,
                                                       self.config.regime_model)
            regime = self._regimes.at(history)
        obs = features.observation(rets, weights_now, drawdown, menu, self.config, regime)
        return obs, menu, drawdown, regime

    def decide(self, history: pd.DataFrame) -> Decision:
        obs, menu, drawdown, regime = self.observe(history)
        action = self.policy.action(obs)
        weights = menu[action]
        today = history.index[-1]
        self._decided[today] = weights
        name = self.policy.action_names[action]
        return Decision(
            today,
            pd.Series(weights, index=history.columns),
            f"DQN picked {name} (drawdown {drawdown:.1%})"
            + (f", {1 - weights.sum():.0%} left in cash" if weights.sum() < 1 - 1e-9 else ""),
            {"action": name, "model_uri": self.model_uri, "drawdown": drawdown,
             "cash": float(1.0 - weights.sum()),
             **({"regime_probabilities": dict(zip(("bull", "bear", "sideways"),
                                                  map(float, regime), strict=True))}
                if regime is not None else {})},
        )
