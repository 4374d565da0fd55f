"""``autoport/Portfolio-v0``: choose an allocation from a menu every k sessions.

Timing and bookkeeping are the fast simulator's (:mod:`autoport.engines.simulator`), which
replays zipline's: the decision on session ``t`` sees closes up to ``t`` and fills at the close
of ``t+1``. The book starts each episode in cash; the first step invests it.

One step covers the sessions from ``t+1`` to the next decision ``t+k`` (or the episode's end).
The reward is the step's log return net of costs (minus the 1/N book's when
``excess_over_equal_weight``), optionally minus a drawdown penalty, or the summed differential
Sharpe ratio of the step's daily returns; times ``reward_scale``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
from gymnasium import spaces
from pydantic import ValidationError

from autoport import configfile
from autoport import data as data_mod
from autoport.decision import Book
from autoport.engines import simulator
from autoport.envs import features, menus
from autoport.envs.config import EnvConfig
from autoport.errors import ConfigError, DataError

CASH = "CASH"  # key of the cash share in info["weights"] (earns 0%)


def _as_config(config: EnvConfig | Mapping[str, Any] | None) -> EnvConfig:
    if config is None:
        return EnvConfig()
    if isinstance(config, EnvConfig):
        return config
    try:
        return EnvConfig.model_validate(dict(config))
    except ValidationError as exc:
        raise configfile.invalid("environment config", exc) from None


class PortfolioEnv(gym.Env):
    """Discrete menu of long-only allocations over a price panel.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): sessions by tickers; default the bundled 20 US stocks.
        A ragged panel (late listings, delistings) is accepted: at each decision the menu
        offers allocations over the assets with ``history_needed`` sessions of prices up to it
        (the others get weight 0 and observe 0 returns), a delisted holding is sold at its
        last price.
    config
        :class:`EnvConfig` or a mapping of its fields.
    start, end
        First and last session an episode may cover (decisions and returns); history before
        ``start`` only feeds the features. Default: the whole panel.
    episode_starts
        Decision sessions to cycle through in order on each ``reset`` (evaluation); default: a
        random start drawn uniformly from every session between ``start`` (or the first session
        with enough history) and the last one leaving ``episode_length`` sessions before
        ``end`` (``train_starts: any_session``), or from the schedule's days only
        (``train_starts: schedule``). Decisions after the first follow ``schedule``.
    episode_length
        Sessions per episode; default ``config.episode_length``.
    render_mode
        None, or ``"ansi"``: :meth:`render` returns the book at the current decision close as
        text (date, value, drawdown, cash and each holding's weight).
    lean_info
        ``step``'s info holds only ``action``, ``value`` and ``cost``; for training loops that
        never read the rest (SB3 deep-copies every step's info: the date, weights and daily
        returns cost ~10% of a default ``train-agent`` run).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}  # fps: Gymnasium asks; one decision a frame

    def __init__(
        self,
        prices: pd.DataFrame | None = None,
        config: EnvConfig | Mapping[str, Any] | None = None,
        *,
        start: str | pd.Timestamp | None = None,
        end: str | pd.Timestamp | None = None,
        episode_starts: Sequence[str | pd.Timestamp] | None = None,
        episode_length: int | None = None,
        render_mode: str | None = None,
        lean_info: bool = False,
    ) -> None:
        super().__init__()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"render_mode {render_mode!r} is not supported; use None or "
                              f"{', '.join(map(repr, self.metadata['render_modes']))}")
        self.render_mode = render_mode
        self.lean_info = bool(lean_info)
        self.config = _as_config(config)
        cfg = self.config
        panel = data_mod.bundled_prices() if prices is None else prices
        panel = data_mod.validate_prices(panel, min_history=cfg.history_needed + 2, ragged=True)
        self.prices = panel
        self.tickers = list(panel.columns)
        # a ragged panel (late listings, delistings): the book marks an asset at its first
        # price before it lists and its last after it delists, as the simulator does (its
        # returns there are 0); the menu (and the 1/N book) holds only the assets priced on
        # each of the menu's history_needed rows (None: a complete panel, all of them)
        self._listed = None
        if panel.isna().to_numpy().any():
            self._listed = data_mod.investable_mask(panel, cfg.history_needed)
            panel = panel.ffill().bfill()
        self._p = panel.to_numpy(dtype=float)
        self._rets = np.diff(np.log(self._p), axis=0)  # row r-1: log return into session r
        self._dates = list(panel.index)
        self._menus: menus.MenuTable | None = None
        self.episode_length = int(episode_length or cfg.episode_length)
        index = panel.index
        first = cfg.history_needed - 1
        self._regime = (features.regime_matrix(self.prices, cfg) if cfg.regime_features
                        else None)
        if self._regime is not None:  # a logged regime model leaves out its training dates
            usable = np.flatnonzero(np.isfinite(self._regime).all(axis=1))
            if len(usable) == 0:
                raise DataError(
                    "no session of the prices has regime probabilities; the regime model was "
                    "trained on all of them: fit it with `autoport regime --as-of` an earlier date"
                )
            first = max(first, int(usable[0]))
        lo = first if start is None else max(first, int(index.searchsorted(pd.Timestamp(start))))
        hi = len(index) - 1 if end is None else int(
            index.searchsorted(pd.Timestamp(end), side="right") - 1)
        self._lo, self._hi = lo, hi
        months = index.to_period("M")
        first_of_month = np.r_[True, months[1:] != months[:-1]]
        self._month_rows = np.flatnonzero(first_of_month)
        if episode_starts is not None:
            rows = [int(index.get_loc(pd.Timestamp(d))) for d in episode_starts]
            bad = [index[r].date() for r in rows if r < first or r + self.episode_length > hi]
            if bad:
                raise DataError(
                    f"episode starts {bad[:3]} leave no room for {first} sessions of history "
                    f"before or {self.episode_length} sessions after within the panel"
                )
            self._starts = np.asarray(rows, dtype=int)
            self._cycle = True
        else:
            last = hi - self.episode_length
            if cfg.train_starts == "any_session":
                self._starts = np.arange(lo, last + 1)
            elif cfg.schedule == "month_start":
                rows = self._month_rows
                self._starts = rows[(rows >= lo) & (rows <= last)]
            else:
                self._starts = np.arange(lo, last + 1, cfg.rebalance_every)
            self._cycle = False
        if len(self._starts) == 0:
            raise DataError(
                f"no {self.episode_length}-session episode fits between "
                f"{index[min(lo, len(index) - 1)].date()} and {index[hi].date()} after "
                f"{cfg.history_needed} sessions of history; widen the period or shorten "
                "episode_length"
            )
        self._next_start = 0
        n, a = len(self.tickers), len(cfg.actions)
        self.action_names = list(cfg.actions)
        self.action_space = spaces.Discrete(a)
        size = features.obs_size(n, cfg)
        self.observation_space = spaces.Box(
            -features.OBS_CLIP, features.OBS_CLIP, shape=(size,), dtype=np.float32
        )
        self._need = max(cfg.lookback, cfg.vol_window) + 1
        self._reset_state(self._starts[0])

    # -- menu -------------------------------------------------------------------------------
    def menu_at(self, row: int) -> np.ndarray:
        """Menu weights (n_actions, n_assets) decided at the close of session ``row``: every
        session's menu is built once per panel and settings, and kept on disk
        (:mod:`autoport.envs.menus`).

        Parameters
        ----------
        row
            Position of the decision session in ``prices``.
        """
        if self._menus is None:
            self._menus = menus.table(self.prices, self.config)
        return self._menus.at(int(row))

    # -- episode state ----------------------------------------------------------------------
    def _reset_state(self, start_row: int) -> None:
        n = len(self.tickers)
        self._t = int(start_row)
        self._end = int(start_row) + self.episode_length
        if self.config.schedule == "month_start" and not self._cycle:
            # training episodes end on a month start too, so every menu they read (the last
            # observation's included) is one of the shared month-start menus
            nxt = self._next_decision(self._end - 1)
            if nxt <= self._hi:
                self._end = nxt
        self._book = simulator.Account.all_cash(n)
        self._ew_book = simulator.Account.all_cash(n)
        self._value = 1.0
        self._ew_value = 1.0
        self._peak = 1.0
        self._max_dd = 0.0
        self._dsr_a = 0.0
        self._dsr_b = 0.0

    def _observation(self) -> np.ndarray:
        t = self._t
        rets = self._rets[t - self._need + 1 : t]  # same numbers as features.log_returns
        weights = self._book.weights(self._p[t])
        drawdown = 1.0 - self._value / self._peak
        regime = None if self._regime is None else self._regime[t]
        return features.observation(rets, weights, drawdown, self.menu_at(t), self.config,
                                    regime)

    def book(self) -> Book:
        """The agent's account at the current decision close, per unit of starting capital,
        as the strategy contract hands it (no fills are kept), so a strategy can be driven
        beside the env on the same book."""
        t = self._t
        marks = pd.Series(self._p[t], index=self.tickers)
        return Book(self.prices.index[t], float(self._book.cash),
                    pd.Series(self._book.shares.copy(), index=self.tickers), marks,
                    costs=self.config.costs)

    def render(self) -> str | None:
        """The book as text for ``render_mode="ansi"`` (Gymnasium's convention: returned, not
        printed); None without a render mode."""
        if self.render_mode != "ansi":
            return None
        book = self.book()
        weights = book.weights
        held = weights[weights.abs() > 1e-12].sort_values(ascending=False)
        lines = [f"{book.date.date()}  value {self._value:.4f} (start 1)  drawdown "
                 f"{1.0 - self._value / self._peak:.2%}  cash {1.0 - weights.sum():.2%}"]
        lines += [f"  {ticker:<8} {w:7.2%}  {book.shares[ticker]:.6f} sh @ {book.prices[ticker]:.2f}"
                  for ticker, w in held.items()]
        return "\n".join(lines) + "\n"

    def _next_decision(self, t: int) -> int:
        if self.config.schedule == "month_start":
            i = int(np.searchsorted(self._month_rows, t, side="right"))
            return int(self._month_rows[i]) if i < len(self._month_rows) else len(self._p) - 1
        return t + self.config.rebalance_every

    def _advance(self, book: simulator.Account, weights: np.ndarray, t: int, nt: int):
        target = simulator.target_shares(book, weights, self._p[t])
        cost = simulator.fill(book, target, self._p[t + 1], self.config.costs)
        return simulator.hold_values(book, self._p[t + 1 : nt + 1]), cost

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode; returns ``(observation, info)`` at its first decision close.

        Parameters
        ----------
        seed
            Seeds the environment's random episode starts (Gymnasium's convention).
        options
            ``{"start": date}`` starts the episode at that session.
        """
        super().reset(seed=seed)
        options = options or {}
        if "start" in options:
            row = int(self.prices.index.get_loc(pd.Timestamp(options["start"])))
        elif self._cycle:
            row = int(self._starts[self._next_start % len(self._starts)])
            self._next_start += 1
        else:
            row = int(self._starts[self.np_random.integers(len(self._starts))])
        self._reset_state(row)
        info = {"date": self._dates[row],
                "weights": {**dict.fromkeys(self.tickers, 0.0), CASH: 1.0}}
        return self._observation(), info

    def step(self, action):
        """Hold the menu item ``action`` until the next decision; Gymnasium's 5-tuple.

        Parameters
        ----------
        action
            Index of a menu item, 0 .. ``n_actions - 1`` (names in ``action_names``).
        """
        try:
            a = int(action)
        except (TypeError, ValueError):
            a = -1
        if not 0 <= a < self.action_space.n or a != action:
            raise ConfigError(
                f"action {action!r} is not in 0..{self.action_space.n - 1} "
                f"({', '.join(self.action_names)})"
            )
        cfg = self.config
        t = self._t
        nt = min(self._next_decision(t), self._end)
        weights = self.menu_at(t)[a]
        values, cost = self._advance(self._book, weights, t, nt)
        previous = np.concatenate([[self._value], values[:-1]])
        daily = values / previous - 1.0
        log_ret = float(np.log(values[-1] / self._value))
        bench_daily = np.zeros_like(daily)
        bench_log = 0.0
        if cfg.excess_over_equal_weight:
            ew = np.full(len(self.tickers), 1.0 / len(self.tickers)) if self._listed is None \
                else self._listed[t] / self._listed[t].sum()
            ew_values, _ = self._advance(self._ew_book, ew, t, nt)
            ew_prev = np.concatenate([[self._ew_value], ew_values[:-1]])
            bench_daily = ew_values / ew_prev - 1.0
            bench_log = float(np.log(ew_values[-1] / self._ew_value))
            self._ew_value = float(ew_values[-1])
        peaks = np.maximum.accumulate(np.concatenate([[self._peak], values]))[1:]
        max_dd = max(self._max_dd, float(np.max(1.0 - values / peaks)))
        if cfg.reward == "differential_sharpe":
            reward = 0.0
            for r in daily - bench_daily:
                da, db = r - self._dsr_a, r * r - self._dsr_b
                denom = (self._dsr_b - self._dsr_a**2) ** 1.5
                if denom > 1e-12:
                    reward += (self._dsr_b * da - 0.5 * self._dsr_a * db) / denom
                self._dsr_a += cfg.dsr_eta * da
                self._dsr_b += cfg.dsr_eta * db
            reward *= cfg.reward_scale / 100.0  # DSR is already O(1) per day
        else:
            reward = log_ret - bench_log
            if cfg.reward == "drawdown_penalty":
                reward -= cfg.drawdown_penalty * (max_dd - self._max_dd)
            reward *= cfg.reward_scale
        self._max_dd = max_dd
        self._peak = float(peaks[-1])
        self._value = float(values[-1])
        self._t = nt
        truncated = nt >= self._end
        if self.lean_info:
            return (self._observation(), float(reward), False, truncated,
                    {"action": self.action_names[a], "value": self._value, "cost": cost})
        info = {
            "date": self._dates[nt],
            "action": self.action_names[a],
            "weights": {**dict(zip(self.tickers, map(float, weights), strict=True)),
                        CASH: 1.0 - float(weights.sum())},
            "value": self._value,
            "cost": cost,
            "daily_returns": daily,
            # rows of ``prices`` the daily returns belong to (ints: SB3 deep-copies infos)
            "rows": (t + 1, nt + 1),
        }
        return self._observation(), float(reward), False, truncated, info
