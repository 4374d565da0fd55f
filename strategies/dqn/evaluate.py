"""The evaluation protocol: non-overlapping episodes, success rule, baselines, action use.

An episode is ``episode_sessions`` consecutive sessions of the period. Its first decision is
taken at the close of the session before the window (so the window's returns all lie inside
the period), the book starts in cash and is invested on the window's first session. The agent,
1/N, max Sharpe and min variance run on the same windows, schedule and costs through the env.

Success (per episode): max drawdown no deeper than ``max_drawdown_limit`` AND Sharpe strictly
above 1/N's on the same window. Sharpe is empyrical's, annualised, risk-free 0, from daily
returns; drawdowns are negative returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import empyrical
import numpy as np
import pandas as pd

from autoport.strategies.dqn.config import AgentConfig, parse_config
from autoport.envs.config import EnvConfig
from autoport.envs.portfolio_env import PortfolioEnv
from autoport.errors import DataError

Policy = Callable[[np.ndarray], int]
BASELINES = ("equal_weight", "max_sharpe", "min_variance")


@dataclass(frozen=True)
class Episode:
    start: pd.Timestamp  # first session of the window
    end: pd.Timestamp
    returns: np.ndarray  # daily, net of costs
    actions: tuple[str, ...]
    sessions: pd.DatetimeIndex | None = None  # the sessions of ``returns``

    @property
    def sharpe(self) -> float:
        return float(empyrical.sharpe_ratio(self.returns))

    @property
    def max_drawdown(self) -> float:
        return float(empyrical.max_drawdown(self.returns))


def period_bounds(config: AgentConfig, period: str) -> tuple[pd.Timestamp, pd.Timestamp | None]:
    p = config.protocol
    if period == "validation":
        return pd.Timestamp(p.validation_start), pd.Timestamp(p.validation_end)
    if period == "test":
        return pd.Timestamp(p.test_start), (pd.Timestamp(p.test_end) if p.test_end else None)
    raise DataError(f"unknown evaluation period {period!r}; use validation or test")


def episode_starts(
    index: pd.DatetimeIndex, start: pd.Timestamp, end: pd.Timestamp | None, length: int
) -> list[pd.Timestamp]:
    """Decision sessions (the session before each window) of the non-overlapping windows.

    A tail shorter than ``length`` sessions at the end of the period is left out.
    """
    lo = int(index.searchsorted(start))
    hi = len(index) - 1 if end is None else int(index.searchsorted(end, side="right") - 1)
    if lo < 1:
        raise DataError(f"the period starting {start.date()} needs history before it")
    count = (hi - lo + 1) // length
    if count < 1:
        raise DataError(
            f"the period {start.date()}..{index[hi].date()} holds {hi - lo + 1} sessions, "
            f"fewer than one {length}-session episode"
        )
    return [index[lo - 1 + j * length] for j in range(count)]


def run_episodes(
    prices: pd.DataFrame, env_config: EnvConfig, starts: list[pd.Timestamp], length: int,
    policy: Policy,
) -> list[Episode]:
    """Roll ``policy`` (observation → action index) over each window, deterministically."""
    env = PortfolioEnv(prices, env_config, episode_starts=starts, episode_length=length)
    episodes = []
    for _ in starts:
        obs, _ = env.reset()
        returns, actions, rows = [], [], []
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(policy(obs))
            returns.extend(info["daily_returns"])
            rows.append(info["rows"])
            actions.append(info["action"])
            done = terminated or truncated
        sessions = env.prices.index[rows[0][0] : rows[-1][1]]
        episodes.append(Episode(sessions[0], sessions[-1], np.asarray(returns), tuple(actions),
                                sessions))
    return episodes


def constant_policy(action: int) -> Policy:
    return lambda obs: action


def baseline_episodes(
    prices: pd.DataFrame, config: AgentConfig, period: str = "test"
) -> dict[str, list[Episode]]:
    """The fixed strategies on the protocol's windows (same schedule and costs as the agent).

    When the agent's menu offers them all, they are its own menu items (the menus of the
    panel are then built once, not a second time for a three-item menu)."""
    env_config = config.env
    if not set(BASELINES) <= set(env_config.actions):
        env_config = env_config.model_copy(update={"actions": BASELINES})
    start, end = period_bounds(config, period)
    length = config.protocol.episode_sessions
    starts = episode_starts(prices.index, start, end, length)
    return {
        name: run_episodes(prices, env_config, starts, length,
                           constant_policy(list(env_config.actions).index(name)))
        for name in BASELINES
    }


def _success(episodes: list[Episode], reference: list[Episode], limit: float) -> list[bool]:
    return [
        bool(e.max_drawdown >= -limit and e.sharpe > r.sharpe)
        for e, r in zip(episodes, reference, strict=True)
    ]


def _pooled(episodes: list[Episode]) -> tuple[float, float]:
    returns = np.concatenate([e.returns for e in episodes])
    return float(empyrical.sharpe_ratio(returns)), float(empyrical.max_drawdown(returns))


DOMINANT_SHARE = 0.8  # above this share of decisions, one action is said to dominate


def switches(actions: tuple[str, ...] | list[str]) -> int:
    """Action changes between consecutive decisions of one episode."""
    return sum(a != b for a, b in zip(actions, actions[1:], strict=False))


def action_usage(episodes: list[Episode], names: list[str]) -> dict[str, Any]:
    """How the policy's choices spread over the actions and how often they change.

    ``action_distribution``: share of all decisions per action (every menu item listed);
    ``action_counts``: the same as counts; ``switch_rate``: share of consecutive decision
    pairs (within an episode) that change action; ``switches_per_episode``: mean number of
    changes per episode (``switches_by_episode`` lists them); ``most_common_action`` and its
    ``most_common_share``; ``dominant_action``: that action's name when its share exceeds
    ``DOMINANT_SHARE`` (a policy that nearly always picks one allocation), else None.
    """
    counts = Counter(a for e in episodes for a in e.actions)
    total = sum(counts.values())
    by_episode = [switches(e.actions) for e in episodes]
    pairs = sum(max(len(e.actions) - 1, 0) for e in episodes)
    top_name, top_count = counts.most_common(1)[0] if total else (None, 0)
    top = top_count / total if total else float("nan")
    return {
        "action_distribution": {n: counts.get(n, 0) / total for n in names} if total else {},
        "action_counts": {n: counts.get(n, 0) for n in names},
        "switch_rate": sum(by_episode) / pairs if pairs else 0.0,
        "switches_per_episode": float(np.mean(by_episode)) if by_episode else 0.0,
        "switches_by_episode": by_episode,
        "most_common_action": top_name,
        "most_common_share": top,
        "dominant_action": top_name if total and top > DOMINANT_SHARE else None,
        "decisions": total,
    }


def evaluate_policy(
    prices: pd.DataFrame,
    config: AgentConfig | dict | None,
    policy: Policy,
    *,
    env_config: EnvConfig | None = None,
    period: str = "test",
    baselines: dict[str, list[Episode]] | None = None,
) -> dict[str, Any]:
    """The protocol's figures for ``policy`` on ``period`` beside the fixed strategies.

    ``returns`` is the agent's daily return series over the episodes (each starts in cash)."""
    config = parse_config(config)
    env_config = env_config or config.env
    start, end = period_bounds(config, period)
    length = config.protocol.episode_sessions
    limit = config.protocol.max_drawdown_limit
    starts = episode_starts(prices.index, start, end, length)
    episodes = run_episodes(prices, env_config, starts, length, policy)
    baselines = baselines or baseline_episodes(prices, config.model_copy(
        update={"env": env_config}), period)
    ew = baselines["equal_weight"]
    success = _success(episodes, ew, limit)
    sharpe, mdd = _pooled(episodes)
    table = []
    for e, r, ok in zip(episodes, ew, success, strict=True):
        row = {"start": e.start, "end": e.end, "sharpe": e.sharpe, "max_drawdown": e.max_drawdown,
               "equal_weight_sharpe": r.sharpe, "success": ok, "actions": list(e.actions),
               "switches": switches(e.actions)}
        for name in ("max_sharpe", "min_variance"):
            row[f"{name}_sharpe"] = next(
                b.sharpe for b in baselines[name] if b.start == e.start)
        table.append(row)
    base_figures = {}
    for name, eps in baselines.items():
        b_sharpe, b_mdd = _pooled(eps)
        base_figures[name] = {
            "success_rate": float(np.mean(_success(eps, ew, limit))),
            "sharpe": b_sharpe,
            "max_drawdown": b_mdd,
        }
    return {
        "period": period,
        "success_rate": float(np.mean(success)),
        "target_success_rate": config.protocol.target_success_rate,
        "sharpe": sharpe,
        "max_drawdown": mdd,
        "equal_weight_sharpe": base_figures["equal_weight"]["sharpe"],
        "max_sharpe_sharpe": base_figures["max_sharpe"]["sharpe"],
        "min_variance_sharpe": base_figures["min_variance"]["sharpe"],
        "mean_excess_sharpe": float(np.mean([e.sharpe - r.sharpe for e, r in zip(
            episodes, ew, strict=True)])),
        "n_episodes": len(episodes),
        "episodes": table,
        "baselines": base_figures,
        "returns": pd.Series(np.concatenate([e.returns for e in episodes]),
                             index=pd.DatetimeIndex(np.concatenate(
                                 [e.sessions for e in episodes])), name="agent"),
        **action_usage(episodes, list(env_config.actions)),
    }


def evaluate_model(
    model_uri: str, prices: pd.DataFrame, config: AgentConfig | dict | str | Path | None = None
) -> dict[str, Any]:
    """Re-run the test-period evaluation of a logged model (``runs:/ID/model``,
    ``models:/NAME@alias``); the environment settings come from the model itself, the
    protocol (dates, episode length, drawdown limit) from ``config`` (a model, a mapping, a
    YAML path such as ``configs/dqn.yaml``, or None for the defaults).

    Keys include success_rate, sharpe, max_drawdown, equal_weight_sharpe, max_sharpe_sharpe,
    min_variance_sharpe, episodes (one dict per test episode), baselines and the keys of
    :func:`action_usage` (action_distribution, switch_rate, switches_per_episode,
    dominant_action, ...)."""
    from autoport.strategies.dqn.config import load_config
    from autoport.strategies.dqn.policy import load_policy

    if isinstance(config, (str, Path)):
        config = load_config(config)

    mapper = load_policy(model_uri)
    mapper.check_tickers(list(prices.columns))
    result = evaluate_policy(prices, config, mapper.action, env_config=mapper.env_config)
    result["model_uri"] = model_uri
    return result
