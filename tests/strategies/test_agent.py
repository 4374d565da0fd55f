"""DQN agent: evaluation protocol, seeded training, the logged model and the dqn strategy."""

from __future__ import annotations

import json
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from autoport.strategies.dqn.config import AgentConfig, load_config
from autoport.strategies.dqn.evaluate import (
    Episode, action_usage, baseline_episodes, constant_policy, episode_starts, evaluate_policy,
)
from autoport.envs.portfolio_env import PortfolioEnv
from autoport.errors import ConfigError, DataError
from autoport.synthetic import regime_switching_prices
from autoport.testing import TINY_AGENT

CONFIG = {**TINY_AGENT, "seed": 3,
          "dqn": {**TINY_AGENT["dqn"], "net_arch": [32, 32]}}


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    from zipline.utils.calendar_utils import get_calendar

    panel, _ = regime_switching_prices(900, seed=11, start="1999-06-01")
    # put the panel on NYSE sessions so that zipline can trade it too
    sessions = get_calendar("XNYS", start=pd.Timestamp("1990-01-01")).sessions_in_range(
        "1999-06-01", "2004-01-01")[: len(panel)]
    panel.index = pd.DatetimeIndex(sessions, name="date")
    panel = panel.round(3)  # zipline's daily bars store prices in thousandths
    return panel  # 1999-06-01 .. 2002-12-30: test 2002-07-01 to the end, 6 episodes of 20


@pytest.fixture(scope="module")
def config() -> AgentConfig:
    return AgentConfig.model_validate(CONFIG)


def test_repo_config_loads_and_bad_keys_are_refused(tmp_path):
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "dqn.yaml")
    assert cfg.dqn.buffer_size == 100_000 and cfg.protocol.episode_sessions == 63
    assert str(cfg.protocol.test_start) == "2018-01-01"
    assert cfg == AgentConfig()  # train-agent without --config runs the same settings
    bad = tmp_path / "bad.yaml"
    bad.write_text("dqn: {buffer: 5}\n")
    with pytest.raises(ConfigError, match="dqn.buffer"):
        load_config(bad)
    with pytest.raises(ConfigError, match="train_end < validation_start"):
        load_config(None, {"protocol": {"train_end": "2016-01-01"}})


def test_episode_windows_are_non_overlapping_and_inside_the_period():
    index = pd.bdate_range("2020-01-01", periods=300)
    starts = episode_starts(index, pd.Timestamp("2020-03-02"), None, 63)
    rows = [index.get_loc(s) for s in starts]
    assert rows == [index.get_loc(pd.Timestamp("2020-02-28")) + 63 * j for j in range(4)]
    assert 300 - (rows[-1] + 64) == 5  # the 5-session tail is left out
    with pytest.raises(DataError, match="fewer than one 63-session episode"):
        episode_starts(index, pd.Timestamp("2021-01-01"), None, 63)


def test_action_usage_counts_and_switches():
    eps = [Episode(pd.Timestamp(0), pd.Timestamp(1), np.zeros(3), ("a", "a", "b")),
           Episode(pd.Timestamp(2), pd.Timestamp(3), np.zeros(3), ("b", "b", "b"))]
    usage = action_usage(eps, ["a", "b", "c"])
    assert usage["action_distribution"] == {"a": 2 / 6, "b": 4 / 6, "c": 0.0}
    assert usage["action_counts"] == {"a": 2, "b": 4, "c": 0}
    assert usage["switch_rate"] == 1 / 4 and usage["most_common_share"] == 4 / 6
    assert usage["switches_by_episode"] == [1, 0] and usage["switches_per_episode"] == 0.5
    assert usage["most_common_action"] == "b" and usage["dominant_action"] is None
    stuck = eps + [Episode(pd.Timestamp(4), pd.Timestamp(5), np.zeros(3), ("b",) * 9)]
    usage = action_usage(stuck, ["a", "b", "c"])  # b: 13 of 15 decisions, 87%
    assert usage["dominant_action"] == "b" and usage["most_common_share"] == 13 / 15


def test_constant_policies_reproduce_the_baselines(prices, config):
    base = baseline_episodes(prices, config, "test")
    ew = evaluate_policy(prices, config, constant_policy(0))  # action 0 is equal_weight
    assert ew["success_rate"] == 0.0  # never strictly above itself
    assert ew["sharpe"] == pytest.approx(ew["equal_weight_sharpe"], abs=1e-12)
    ms = evaluate_policy(prices, config, constant_policy(2))  # max_sharpe
    assert ms["success_rate"] == pytest.approx(ms["baselines"]["max_sharpe"]["success_rate"])
    assert ms["sharpe"] == pytest.approx(ms["max_sharpe_sharpe"], abs=1e-12)
    assert ms["n_episodes"] == len(base["max_sharpe"]) == len(ms["episodes"])
    assert ms["action_distribution"]["max_sharpe"] == 1.0 and ms["switch_rate"] == 0.0
    assert ms["dominant_action"] == "max_sharpe" and ms["switches_per_episode"] == 0.0
    assert all(row["switches"] == 0 for row in ms["episodes"])
    assert len(ms["returns"]) == 20 * ms["n_episodes"]
    np.testing.assert_array_equal(ms["returns"].to_numpy(),
                                  np.concatenate([e.returns for e in base["max_sharpe"]]))
    assert ms["returns"].index[0] == ms["episodes"][0]["start"]
    for row, b in zip(ms["episodes"], base["equal_weight"], strict=True):
        ok = row["max_drawdown"] >= -0.10 and row["sharpe"] > b.sharpe
        assert row["success"] == ok and row["equal_weight_sharpe"] == b.sharpe
    first = pd.Timestamp(config.protocol.test_start)
    assert ms["episodes"][0]["start"] == prices.index[prices.index.searchsorted(first)]


@pytest.fixture(scope="module")
def trained(prices, config):
    from autoport.strategies.dqn.train import train

    return train(prices, config)


@pytest.mark.slow
def test_training_is_seeded_and_selects_on_validation(prices, config, trained):
    from autoport.strategies.dqn.train import train
    from autoport.strategies.dqn.train import q_values

    again = train(prices, config)
    assert trained.timesteps == again.timesteps > 0
    assert trained.validation_curve == again.validation_curve
    assert trained.test["episodes"] == again.test["episodes"]
    env = PortfolioEnv(prices, config.env)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(q_values(trained.mapper, obs), q_values(again.mapper, obs))
    best = max(trained.validation_curve,
               key=lambda p: (p["success_rate"], p["mean_excess_sharpe"]))
    assert trained.best_step == best["step"]
    assert trained.validation["success_rate"] == best["success_rate"]
    frame = trained.mapper.predict(np.stack([obs, obs]))
    weights = frame[list(prices.columns)].to_numpy()
    np.testing.assert_allclose(weights.sum(axis=1) + frame["CASH"], 1.0, atol=1e-6)
    np.testing.assert_allclose(weights[0], env.menu_at(env._t)[frame["action"][0]], atol=1e-6)


@pytest.mark.slow
def test_logged_model_round_trip_and_dqn_strategy(prices, config, trained, tmp_path,
                                                  monkeypatch):
    from autoport import tracking
    from autoport.strategies.dqn.evaluate import evaluate_model
    from autoport.strategies.dqn.pyfunc import model_log_kwargs
    from autoport.envs import features
    from autoport.strategies import make_strategy

    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_id, uri = tracking.log_model_run(
            "agents-test", run_name="t", params={}, metrics={},
            model_artifacts=trained.mapper.save(tmp_path / "m"), curves={"c": [(1, 0.5)]},
            **model_log_kwargs(tmp_path / "code"),  # as train-agent logs it, autoport's code too
        )
    hints = [w for w in caught if "type hint" in str(w.message).lower()]
    assert not hints, [str(w.message) for w in hints]
    import mlflow

    # no input schema: the model takes a price panel or observations (one schema would refuse
    # the other form; tests/promotion/test_dqn_served_prices.py serves both)
    assert mlflow.models.get_model_info(uri).signature is None
    env0 = PortfolioEnv(prices, config.env)
    obs0, _ = env0.reset(seed=0)
    frame = tracking.load_pyfunc(uri).predict([obs0.tolist(), obs0.tolist()])
    assert list(frame["action"]) == [trained.mapper.action(obs0)] * 2
    np.testing.assert_allclose(frame[list(prices.columns)].sum(axis=1) + frame["CASH"], 1.0,
                               atol=1e-6)
    again = evaluate_model(uri, prices, config)
    for key in ("success_rate", "sharpe", "max_drawdown", "equal_weight_sharpe",
                "max_sharpe_sharpe"):
        assert again[key] == trained.test[key]
    assert again["episodes"] == trained.test["episodes"]
    # handed the env's book, the strategy sees the env's observations on the env's dates
    strategy = make_strategy("dqn", model_uri=uri)
    starts = episode_starts(prices.index, pd.Timestamp("2002-07-01"), None, 20)
    env = PortfolioEnv(prices, config.env, episode_starts=starts[:1], episode_length=20)
    obs, _ = env.reset()
    for _ in range(4):
        decision = strategy.decide(prices.loc[: prices.index[env._t]], env.book())
        assert decision.details["action"] == env.action_names[trained.mapper.action(obs)]
        assert decision.weights.sum() + decision.details["cash"] == pytest.approx(1.0)
        assert (decision.weights >= 0).all()
        obs, *_ = env.step(trained.mapper.action(obs))
    with pytest.raises(ConfigError, match="needs a model"):
        make_strategy("dqn")
    assert features.obs_size(5, config.env) == env.observation_space.shape[0]


@pytest.mark.slow
def test_a_trained_model_is_never_scored_on_its_own_training_data(prices, trained):
    """The agent trained to 2001-12-31 and was selected on 2002-01-01..2002-06-30."""
    from autoport import metrics
    from autoport.backtest import BacktestConfig, run_backtest
    from autoport.errors import DataError
    from autoport.strategies import make_strategy

    assert trained.mapper.seen_until == date(2002, 6, 30)
    cfg = BacktestConfig(strategy="dqn", window=60, strategy_params={"mapper": trained.mapper})
    with pytest.raises(DataError, match=r"up to 2002-06-30; a backtest from 2000-06-01 would "
                                        r"score them on that data.*--allow-in-sample"):
        run_backtest(cfg.model_copy(update={"start": date(2000, 6, 1)}), prices,
                     make_strategy=make_strategy)
    fresh = run_backtest(cfg, prices, make_strategy=make_strategy)  # default: after it
    assert fresh.start > pd.Timestamp("2002-06-30") and fresh.in_sample_end is None
    assert fresh.split_metrics() is None
    mixed = run_backtest(cfg.model_copy(update={"start": date(2002, 3, 1),
                                                "allow_in_sample": True}),
                         prices, make_strategy=make_strategy)
    assert mixed.in_sample_end == pd.Timestamp("2002-06-30")
    split = mixed.split_metrics()
    inside, outside = split["in_sample"], split["out_of_sample"]
    assert inside["start"] == mixed.start and inside["end"] <= pd.Timestamp("2002-06-30")
    assert outside["start"] > pd.Timestamp("2002-06-30") and outside["end"] == mixed.end
    # each part's figures are the metrics of that part's daily returns alone
    own = metrics.summary(mixed.strategy.returns.loc[outside["start"]:])
    assert outside["metrics"]["sharpe"] == pytest.approx(own["sharpe"], rel=1e-12)
    own_1n = metrics.summary(mixed.baseline.returns.loc[:inside["end"]])
    assert inside["baseline"]["sharpe"] == pytest.approx(own_1n["sharpe"], rel=1e-12)


@pytest.mark.slow
def test_train_agent_cli_json(prices, tmp_path, monkeypatch):
    from autoport_cli.main import app

    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    path = tmp_path / "prices.csv"
    prices.to_csv(path)
    cfg = tmp_path / "dqn.yaml"
    cfg.write_text(json.dumps({**CONFIG, "validation": {"eval_freq": 150, "patience": 1,
                                                        "min_evals": 1}}))
    result = CliRunner().invoke(app, ["train-agent", "--config", str(cfg), "--prices", str(path),
                                      "--timesteps", "300", "--seed", "1", "--json",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout[result.stdout.index("{"):])
    assert payload["run_id"] and payload["model_uri"].startswith("runs:/")
    assert payload["timesteps"] == 300
    assert 0.0 <= payload["success_rate"] <= 1.0
    assert len(payload["episodes"]) == 6 and set(payload["baselines"]) == {
        "equal_weight", "max_sharpe", "min_variance"}
    assert payload["baselines"]["equal_weight"]["success_rate"] == 0.0
    shares = payload["action_distribution"]
    assert set(shares) == set(payload["action_counts"]) and sum(shares.values()) == (
        pytest.approx(1.0))
    decisions = sum(len(e["actions"]) for e in payload["episodes"])
    assert sum(payload["action_counts"].values()) == decisions
    assert payload["switches_per_episode"] == pytest.approx(
        np.mean([e["switches"] for e in payload["episodes"]]))
    top = max(shares.values())
    assert payload["most_common_share"] == pytest.approx(top)
    assert (payload["dominant_action"] is not None) == (top > 0.8)
    assert (tmp_path / "out" / "test_episodes.csv").exists()
    assert (tmp_path / "out" / "training_curve.png").stat().st_size > 15_000
    bad = CliRunner().invoke(app, ["train-agent", "--config", str(tmp_path / "nope.yaml")])
    assert bad.exit_code == 1 and "does not exist" in bad.output


@pytest.mark.slow
def test_dqn_backtest_through_zipline_matches_the_env(prices, trained, tmp_path, monkeypatch):
    """The same policy decides the same actions on month starts in zipline and in the env, and
    the daily returns agree (costs off; zipline rounds to whole shares)."""
    _zipline_matches_env(prices, trained.mapper, tmp_path, monkeypatch)


def _regime_mapper(prices, config):
    """An untrained (seeded) DQN policy observing regime features, on a fast detector."""
    from stable_baselines3 import DQN

    from autoport.strategies.dqn.policy import PolicyMapper
    from autoport.regime.config import DetectorConfig

    detector = DetectorConfig(min_train=150, refit_every=60, n_restarts=1, n_iter=30)
    env_cfg = config.env.model_copy(update={"regime_features": True,
                                            "regime_detector": detector,
                                            "schedule": "month_start"})
    env = PortfolioEnv(prices, env_cfg, episode_starts=[prices.index[600]], episode_length=130)
    model = DQN("MlpPolicy", env, seed=0, device="cpu", learning_starts=10,
                policy_kwargs={"net_arch": [8]})
    return PolicyMapper(model, env_cfg, list(prices.columns), seen_until=date(2001, 12, 31))


@pytest.mark.slow
def test_dqn_backtest_with_regime_features_through_zipline_matches_the_env(
        prices, config, tmp_path, monkeypatch):
    """With regime features the logged policy, backtested through zipline on histories only,
    still takes the env's decisions and earns its daily returns."""
    _zipline_matches_env(prices, _regime_mapper(prices, config), tmp_path, monkeypatch)


def _zipline_matches_env(prices, mapper, tmp_path, monkeypatch):
    from autoport import tracking
    from autoport.strategies.dqn.pyfunc import MODEL_CODE
    from autoport.engines import zipline_engine
    from autoport.engines.costs import CostModel
    from autoport.strategies import make_strategy

    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    _, uri = tracking.log_model_run(
        "agents-test", run_name="z", params={}, metrics={}, python_model=str(MODEL_CODE),
        model_artifacts=mapper.save(tmp_path / "m"))
    free = CostModel(commission_bps=0.0, slippage_bps=0.0)
    strategy = make_strategy("dqn", model_uri=uri)
    strategy.config = strategy.config.model_copy(update={"costs": free})
    index = prices.index
    months = index.to_period("M")
    start_row = next(r for r in range(700, 900) if months[r] != months[r - 1])
    length = 80
    result = zipline_engine.run(strategy, prices, start=index[start_row],
                                end=index[start_row + length], costs=free, capital=5e9,
                                rebalance="month_start")
    env_cfg = mapper.env_config.model_copy(update={"schedule": "month_start", "costs": free})
    env = PortfolioEnv(prices, env_cfg, episode_starts=[index[start_row]],
                       episode_length=length)
    obs, _ = env.reset()
    returns, actions, done = [], [], False
    while not done:
        obs, _, _, done, info = env.step(mapper.action(obs))
        returns.extend(info["daily_returns"])
        actions.append(info["action"])
    assert [d.details["action"] for d in result.decisions] == actions
    assert len(actions) >= 4
    diff = np.abs(result.returns.to_numpy()[1:] - np.asarray(returns))
    assert diff.max() < 1e-8, f"max daily difference {diff.max():.2e}"


def test_dqn_strategy_builds_the_env_observation_with_regime_features(prices, config):
    """From the history alone (refitting the detector's grid as the history grows), the
    strategy observes exactly what the env observes, regime probabilities included."""
    from autoport.strategies.dqn import DQNPolicy

    mapper = _regime_mapper(prices, config)
    env_cfg = mapper.env_config
    assert env_cfg.history_needed == 152
    env = PortfolioEnv(prices, env_cfg, episode_starts=[prices.index[600]], episode_length=130)
    strategy = DQNPolicy(mapper=mapper)
    assert strategy.min_history == env_cfg.history_needed
    obs, _ = env.reset()
    done, decisions = False, 0
    while not done:
        history = prices.loc[: prices.index[env._t]]
        seen, menu, _, regime = strategy.observe(history, env.book())
        np.testing.assert_array_equal(seen, obs)
        np.testing.assert_array_equal(regime, env._regime[env._t])
        decision = strategy.decide(history, env.book())
        action = mapper.action(obs)
        assert decision.details["action"] == env.action_names[action]
        assert sum(decision.details["regime_probabilities"].values()) == pytest.approx(1.0)
        np.testing.assert_array_equal(decision.weights.to_numpy(), menu[action])
        obs, _, _, done, _ = env.step(action)
        decisions += 1
    assert decisions >= 6
    # 600 + 130 rows span grid points at feature rows 150, 210, ..., 690: 10 fits, each once
    assert strategy._regimes.fitted == 10
