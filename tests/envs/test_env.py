"""The portfolio environment: Gymnasium's checker, menu invariants, causality, bookkeeping."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env

import autoport.envs  # noqa: F401  (registers the id)
from autoport.engines import simulator
from autoport.engines.costs import CostModel
from autoport.envs import ENV_ID, EnvConfig, features
from autoport.envs.portfolio_env import PortfolioEnv
from autoport.errors import ConfigError, DataError
from autoport.regime.config import DetectorConfig
from autoport.regime.config import load_config as load_regime_config
from autoport.synthetic import regime_switching_prices

SMALL = EnvConfig(estimation_window=60, momentum_window=40, lookback=10, vol_window=10,
                  rebalance_every=5, episode_length=30, schedule="every_k", reward="log_return")


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    panel, _ = regime_switching_prices(400, seed=3)
    return panel


def test_check_env_passes(prices):
    check_env(PortfolioEnv(prices, SMALL), skip_render_check=True)


def test_registered_id_makes_env_with_prices(prices):
    env = gym.make(ENV_ID, prices=prices, config=SMALL)
    obs, info = env.reset(seed=1)
    assert env.observation_space.contains(obs)
    assert set(info["weights"]) == {*prices.columns, "CASH"} and info["weights"]["CASH"] == 1.0


def test_every_action_is_long_only_and_sums_to_one(prices):
    env = PortfolioEnv(prices, SMALL)
    env.reset(seed=0)
    for action in range(env.action_space.n):
        env.reset(seed=action)
        _, _, _, _, info = env.step(action)
        w = np.array(list(info["weights"].values()))
        assert (w >= 0).all() and w.sum() == pytest.approx(1.0, abs=1e-12)
        assert info["weights"]["CASH"] == pytest.approx(0.5 if action == 7 else 0.0, abs=1e-12)
        assert info["action"] == SMALL.actions[action]
    menu = env.menu_at(200)
    assert menu.shape == (len(SMALL.actions), prices.shape[1])
    np.testing.assert_allclose(menu.sum(axis=1), [1.0] * 7 + [0.5], atol=1e-12)
    np.testing.assert_allclose(menu[7], 0.5 * menu[1])  # defensive: half min variance, half cash
    assert (menu.max(axis=1) <= max(SMALL.max_weight, 1 / 5) + 1e-6)[1:3].all()


def _scrambled_rollouts(prices, config, seed, start=150, cut=165):
    """Observations at decisions 150, 155, 160, 165 and 170 of one episode, on the prices and on
    a copy whose every price after row ``cut`` is scrambled; also returns the scrambled panel."""
    future = prices.copy()
    rng = np.random.default_rng(seed)
    future.iloc[cut + 1 :] *= rng.uniform(0.5, 1.5, size=future.iloc[cut + 1 :].shape)
    observed = []
    for panel in (prices, future):
        env = PortfolioEnv(panel, config, episode_starts=[prices.index[start]])
        obs, _ = env.reset()
        seen = [obs]
        for action in (1, 2, 3, 0):
            obs, *_ = env.step(action)
            seen.append(obs)
        observed.append(seen)
    return observed, future


def test_observations_ignore_the_future(prices):
    """Scramble every price after a decision: observations up to that decision are unchanged."""
    observed, _ = _scrambled_rollouts(prices, SMALL, seed=0)
    for a, b in zip(observed[0][:4], observed[1][:4], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(observed[0][4], observed[1][4])  # decision 170: after the cut


def test_same_seed_same_numbers(prices):
    def rollout(seed):
        env = PortfolioEnv(prices, SMALL)
        env.reset(seed=seed)
        env.action_space.seed(seed)
        out = []
        for _ in range(6):
            obs, reward, *_ = env.step(env.action_space.sample())
            out.append((obs.sum(), reward))
        return out

    assert rollout(5) == rollout(5)
    assert rollout(5) != rollout(6)


def test_env_books_match_simulator_and_reward_is_excess_log_return(prices):
    cfg = SMALL.model_copy(update={"costs": CostModel(commission_bps=2.0, slippage_bps=10.0)})
    start = prices.index[100]
    env = PortfolioEnv(prices, cfg, episode_starts=[start])
    env.reset()
    actions = [2, 0, 1, 3, 5, 6]
    rewards, returns, decisions = [], [], {}
    for k, a in enumerate(actions):
        decisions[k * 5] = env.menu_at(100 + 5 * k)[a]
        _, reward, _, trunc, info = env.step(a)
        rewards.append(reward)
        returns.extend(info["daily_returns"])
    assert trunc
    window = prices.to_numpy()[100:131]
    sim = simulator.simulate(window, decisions, cfg.costs)
    np.testing.assert_allclose(returns, sim.returns[1:], atol=1e-14)
    ew = simulator.simulate(window, {k * 5: np.full(5, 0.2) for k in range(6)}, cfg.costs)
    expected = 100 * (np.log(sim.values[-1]) - np.log(ew.values[-1]))
    assert sum(rewards) == pytest.approx(expected, abs=1e-9)


def test_drawdown_penalty_and_dsr_rewards_differ_from_log_return(prices):
    totals = {}
    for reward in ("log_return", "drawdown_penalty", "differential_sharpe"):
        cfg = SMALL.model_copy(update={"reward": reward, "drawdown_penalty": 5.0,
                                       "excess_over_equal_weight": False})
        env = PortfolioEnv(prices, cfg, episode_starts=[prices.index[100]])
        env.reset()
        totals[reward] = sum(env.step(a)[1] for a in (2, 2, 2, 2, 2, 2))
    assert totals["drawdown_penalty"] < totals["log_return"]
    assert totals["differential_sharpe"] != pytest.approx(totals["log_return"])


def test_bad_inputs_have_clear_messages(prices):
    with pytest.raises(ConfigError, match="unknown action"):
        PortfolioEnv(prices, {"actions": ["equal_weight", "yolo"]})
    with pytest.raises(DataError, match="no 30-session episode fits"):
        PortfolioEnv(prices, SMALL, start=prices.index[390])
    env = PortfolioEnv(prices, SMALL)
    env.reset(seed=0)
    with pytest.raises(ConfigError, match="not in 0..7"):
        env.step(8)


def test_make_with_defaults_runs_on_bundled_prices():
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=0)
    assert obs.shape == (20 * (20 + 2 + 8) + 1,)
    obs, reward, terminated, truncated, info = env.step(0)
    assert np.isfinite(reward) and not terminated and not truncated
    assert 1 <= len(info["daily_returns"]) <= 23 and info["weights"]["CASH"] == 0.0
    index = env.unwrapped.prices.index  # default schedule: the next decision opens a month
    assert index[index.get_loc(info["date"]) - 1].month != info["date"].month
    assert sum(info["weights"].values()) == pytest.approx(1.0)


def _opens_month(index: pd.DatetimeIndex, day: pd.Timestamp) -> bool:
    return index[index.get_loc(day) - 1].month != day.month


def test_month_start_schedule_decides_on_first_sessions_of_months(prices):
    cfg = SMALL.model_copy(update={"schedule": "month_start", "episode_length": 60,
                                   "train_starts": "schedule"})
    env = PortfolioEnv(prices, cfg)
    _, info = env.reset(seed=4)
    assert _opens_month(prices.index, info["date"])  # train_starts: schedule
    decisions = [info["date"]]
    done = False
    while not done:
        _, _, _, done, info = env.step(0)
        decisions.append(info["date"])
    months = [d.to_period("M") for d in decisions[:-1]]
    assert len(set(months)) == len(months)  # one decision per month
    for d in decisions[1:-1]:
        assert _opens_month(prices.index, d)


@pytest.mark.parametrize("schedule", ["month_start", "every_k"])
def test_training_episodes_start_on_any_session_of_the_period(prices, schedule):
    """Default train_starts: any session with enough history and room for the episode inside
    [start, end] may open an episode; later decisions keep to the schedule."""
    cfg = SMALL.model_copy(update={"schedule": schedule, "episode_length": 40})
    index = prices.index
    start, end = index[120], index[300]
    env = PortfolioEnv(prices, cfg, start=start, end=end)
    np.testing.assert_array_equal(env._starts, np.arange(120, 300 - 40 + 1))
    seen, off_schedule = set(), 0
    for seed in range(60):
        _, info = env.reset(seed=seed)
        first = index.get_loc(info["date"])
        seen.add(first)
        off_schedule += not _opens_month(index, info["date"])
        decisions, done = [first], False
        while not done:
            _, _, _, done, info = env.step(seed % env.action_space.n)
            decisions.append(index.get_loc(info["date"]))
            assert info["rows"][1] - 1 <= 300  # returns stay inside the period
        assert 120 <= first and decisions[-1] <= 300
        inner = decisions[1:-1]
        if schedule == "month_start":
            assert all(_opens_month(index, index[r]) for r in inner)
        else:
            assert inner == [first + 5 * k for k in range(1, len(inner) + 1)]
    assert len(seen) > 40 and off_schedule > 40  # not a grid: draws spread over sessions
    grid = PortfolioEnv(prices, cfg.model_copy(update={"train_starts": "schedule"}),
                        start=start, end=end)
    assert len(grid._starts) < len(env._starts) / 4


# --- regime features ----------------------------------------------------------------------

FAST_DETECTOR = DetectorConfig(min_train=100, refit_every=40, n_restarts=2, n_iter=50)
REGIME = SMALL.model_copy(update={"regime_features": True, "regime_detector": FAST_DETECTOR})


def test_regime_features_are_off_by_default_and_resolve_the_bundled_detector():
    assert not EnvConfig().regime_features and EnvConfig().regime_detector is None
    on = EnvConfig(regime_features=True)
    assert on.regime_detector == load_regime_config().detector  # saved with the model
    # the bundled detector reads market features: feature row 0 sits on price row 1 + 63 (the
    # longest horizon's warm-up), so the first labelled session is price row min_train + 64
    assert on.regime_detector.returns == "features" and max(on.regime_detector.horizons) == 63
    assert on.history_needed == on.regime_detector.min_train + 65 > EnvConfig().history_needed
    assert REGIME.history_needed == 102  # first fit on 100 feature rows = price rows 1..100
    size = features.obs_size(5, SMALL)
    assert features.obs_size(5, REGIME) == size + 3


def test_regime_probabilities_of_a_cut_history_equal_the_full_panel(prices):
    """detect() refits on a grid counted from the first feature row: cut at t or not, the
    same fits label every date up to t, so the probabilities agree exactly; the strategy's
    incremental RegimeObservations gives the same numbers."""
    from autoport.regime.detector import detect

    full = features.regime_matrix(prices, REGIME)
    first = REGIME.history_needed - 1  # price row of the first probability
    assert np.isnan(full[:first]).all() and np.isfinite(full[first:]).all()
    np.testing.assert_allclose(full[first:].sum(axis=1), 1.0, atol=1e-9)
    online = features.RegimeObservations(FAST_DETECTOR)
    grid = [first + k * 40 for k in range(8)]  # refit points 100, 140, ... in feature rows
    for t in (first, grid[1] - 1, grid[1], grid[1] + 1, grid[4], 271, 399):
        cut = detect(prices.iloc[: t + 1], FAST_DETECTOR).probabilities.to_numpy()
        np.testing.assert_array_equal(cut, full[first : t + 1])
        np.testing.assert_array_equal(online.at(prices.iloc[: t + 1]), full[t])
    assert online.fitted == 8  # one fit per grid point up to row 399, reused across calls
    assert np.isnan(online.at(prices.iloc[:first])).all()  # before the first fit
    # a live signal: every regime leads on some date, and the probabilities move
    assert len(set(full[first:].argmax(axis=1))) == 3
    assert len({tuple(np.round(r, 3)) for r in full[first:]}) > 20


def test_regime_observations_ignore_the_future(prices):
    """Scramble every price after a decision: observations (regime part included) up to it
    are unchanged, while the regime probabilities after it do change."""
    cut = 165
    observed, future = _scrambled_rollouts(prices, REGIME, seed=1, cut=cut)
    for a, b in zip(observed[0][:4], observed[1][:4], strict=True):  # decisions 150..165
        np.testing.assert_array_equal(a, b)
        assert a[-3:].sum() == pytest.approx(1.0, abs=1e-6) and (a[-3:] >= 0).all()
    assert not np.array_equal(observed[0][4][-3:], observed[1][4][-3:])  # decision 170
    before, after = (features.regime_matrix(p, REGIME) for p in (prices, future))
    np.testing.assert_array_equal(before[: cut + 1], after[: cut + 1])
    assert not np.allclose(before[cut + 1 :], after[cut + 1 :])


def test_no_decision_before_the_first_regime_fit(prices):
    env = PortfolioEnv(prices, REGIME)
    assert env._starts.min() == REGIME.history_needed - 1
    with pytest.raises(DataError, match="history"):
        PortfolioEnv(prices, REGIME, episode_starts=[prices.index[90]])
    check_env(PortfolioEnv(prices, REGIME), skip_render_check=True)
