"""A trained DQN allocator as a strategy: same observation and menu as in training.

The policy observes its own book (value weights and drawdown over at most a training
episode's length). The engine hands the book at each decision; the strategy only keeps the
daily values since its first decision (the book's cash and shares marked at each close since
the previous call, which the engine did not change in between), so a backtest costs time
linear in its length.

With ``regime_features`` the observation also holds the detector's filtered regime
probabilities on the decision date, from the history alone
(:class:`autoport.envs.features.RegimeObservations`: the same numbers as the env's
``detect`` run over the whole panel, fits cached across decisions).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

from autoport.decision import Book, Decision
from autoport.errors import ConfigError


class DQNPolicy:
    name = "dqn"
    # the observation covers every asset the policy was trained on; on a ragged panel the
    # menu holds the listed ones only (as in the env), so the whole history is handed over
    reads_ragged_history = True

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
        self._regimes = None
        self._menus = None  # the menu builder, warm-started from the previous decision
        self._last: pd.Timestamp | None = None  # the close of the last call
        self._rows_then = 0  # the length of the last call's history
        self._state: tuple[np.ndarray, float] = (np.zeros(0), 0.0)  # its book state
        self._values: deque[float] = deque(maxlen=self.config.episode_length + 1)

    def _rows_read(self, history: pd.DataFrame, book: Book | None) -> int:
        """How many of ``history``'s last rows the observation reads: its returns' window and
        the sessions since the last call (valued by :meth:`_book_state`)."""
        need = max(self.config.lookback, self.config.vol_window) + 1
        if book is None or self._last is None or history.index[-1] <= self._last:
            return need
        return max(need, len(history) - self._since(history))

    def _since(self, history: pd.DataFrame) -> int:
        """The row after the last call's close in ``history``: the last call's row count
        where the (growing) history still has that close there, else an index search."""
        k, index = self._rows_then, history.index
        if 0 < k <= len(index) and index[k - 1] == self._last:
            return k  # sessions are unique and increasing: searchsorted(right) gives k
        return int(index.searchsorted(self._last, side="right"))

    def _book_state(self, history: pd.DataFrame, book: Book | None,
                    values: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """Value weights of the book and its drawdown at the last close.

        Training episodes measure drawdown from their start, at most ``episode_length``
        sessions back; a long backtest would otherwise feed drawdowns never seen in training.
        The values between two calls are the book's cash plus its shares at each close: the
        book changed only by fills, which land on the session after a decision.
        ``values``: ``history`` as a float array, when the caller has it.
        """
        today = history.index[-1]
        if book is None:  # outside an engine: a fresh all-cash account
            self._last = None
            return np.zeros(history.shape[1]), 0.0
        if self._last is not None and today == self._last:
            return self._state  # asked again on the same close (observe, then decide)
        if self._last is not None and today < self._last:
            self._last = None  # a new run from the start
        if self._last is None:
            self._values.clear()
        cols = history.columns
        # the engine's book is over the history's tickers: its numbers straight from numpy
        aligned = book.shares.index.equals(cols) and book.prices.index.equals(cols)
        shares = (book.shares.to_numpy(dtype=float) if aligned
                  else book.shares.reindex(cols, fill_value=0.0).to_numpy(dtype=float))
        first = self._since(history) if self._last is not None else len(history) - 1
        # the sessions since the last call, today's included, valued in one product
        if values is None:
            values = history.to_numpy(dtype=float)
        self._values.extend(book.cash + np.ascontiguousarray(values[first:]) @ shares)
        self._last, self._rows_then = today, len(history)
        if aligned:  # Book.weights' arithmetic, without pandas' alignment
            held = shares * book.prices.to_numpy(dtype=float)
            total = book.cash + held.sum()
            weights = held / total if total > 0 else held * 0.0
        else:
            weights = book.weights.reindex(cols, fill_value=0.0).to_numpy(dtype=float)
        values = np.fromiter(self._values, float)
        self._state = weights, float(1.0 - values[-1] / values.max())
        return self._state

    def observe(self, history: pd.DataFrame, book: Book | None = None
                ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray | None]:
        """The policy's observation at ``history``'s last close, from ``history`` and the
        engine's ``book`` only: ``(obs, menu, drawdown, regime probabilities or None)``."""
        from autoport.envs import features, menus

        self.policy.check_tickers(list(history.columns))
        if self._menus is None:
            self._menus = menus.SessionMenus(self.config)
        values = history.to_numpy(dtype=float)
        menu = self._menus(history, values)
        regime_history = history
        if np.isnan(values[-self._rows_read(history, book):]).any():
            # a ragged panel: an asset observes 0 returns before it lists and after it
            # delists, as in the env (never held there: the menu gives it weight 0). Filling
            # changes only empty cells, so where the rows read below have none, the whole
            # history is not scanned nor filled
            history = history.ffill().bfill().fillna(1.0)
            values = history.to_numpy(dtype=float)
        weights_now, drawdown = self._book_state(history, book, values)
        rets = features.log_returns(values, self.config)
        regime = None
        if self.config.regime_features:
            if self._regimes is None:
                self._regimes = features.RegimeObservations(self.config.regime_detector,
                                                       self.config.regime_model)
            regime = self._regimes.at(regime_history)
        obs = features.observation(rets, weights_now, drawdown, menu, self.config, regime)
        return obs, menu, drawdown, regime

    def decide(self, history: pd.DataFrame, book: Book | None = None) -> Decision:
        obs, menu, drawdown, regime = self.observe(history, book)
        action = self.policy.action(obs)
        weights = menu[action]
        today = history.index[-1]
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
