"""The DQN's cheaper decision path (issue 13 item 3) decides exactly as the path before it.

The old path is kept here: SB3's ``model.predict`` for the action, and a menu builder whose
settle changes one condition at a time and whose max-Sharpe warm start gives up and walks the
whole path when the previous peak's active set has no peak on the new window (the new one
first settles through the previous peak's λ). A backtest through the sim engine with each must
give the same actions and daily returns.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from autoport import data
from autoport.backtest import load_config, run_backtest
from autoport.optimize import _homotopy
from autoport.optimize.warm import WarmPath
from autoport.strategies import make_strategy


class OldWarmPath(WarmPath):
    """Max Sharpe as before: settle from the previous peak's active set, else walk; every
    settle one change at a time."""

    batch = False

    def _max_sharpe(self, mu, cov, start, rows, rf):
        return _homotopy.settle(mu, cov, self.r, start, rows, lam=None, rf=rf,
                                batch=False)


@pytest.fixture(scope="module")
def mapper():
    from stable_baselines3 import DQN

    from autoport.envs import EnvConfig
    from autoport.envs.portfolio_env import PortfolioEnv
    from autoport.strategies.dqn.policy import PolicyMapper

    prices = data.bundled_prices()
    cfg = EnvConfig()
    env = PortfolioEnv(prices.iloc[: cfg.history_needed + 2 * cfg.episode_length], cfg)
    return PolicyMapper(DQN("MlpPolicy", env, seed=0, device="cpu", learning_starts=0),
                        cfg, list(prices.columns))


def test_the_direct_forward_picks_predicts_action(mapper):
    rng = np.random.default_rng(3)
    size = mapper.model.observation_space.shape[0]
    # observations at the env's scale and far beyond it (the clip is at 10)
    obs = np.vstack([rng.normal(scale=s, size=(100, size)) for s in (0.1, 1.0, 10.0)])
    mapper.model.policy.set_training_mode(True)  # predict switches to eval mode: so must it
    got = [mapper.action(o) for o in obs.astype(np.float32)]
    assert not mapper.model.policy.training
    want = [int(mapper.model.predict(o, deterministic=True)[0]) for o in obs.astype(np.float32)]
    assert got == want
    assert len(set(want)) > 1  # the draw reaches more than one action
    frozen = obs[0].astype(np.float32)
    frozen.setflags(write=False)  # e.g. a row of a read-only menu table's observation
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mapper.action(frozen) == want[0]


def _run(mapper, monkeypatch, *, old: bool):
    from autoport.envs import menus
    from autoport.strategies.dqn import DQNPolicy

    prices = data.bundled_prices()
    walks = []
    real = _homotopy.max_sharpe

    def make(name, **params):
        return DQNPolicy(mapper=mapper) if name == "dqn" else make_strategy(name, **params)

    cfg = load_config(None, {"strategy": "dqn", "start": "2013-01-01", "end": "2022-12-31"})
    with monkeypatch.context() as m:
        m.setattr(_homotopy, "max_sharpe", lambda *a, **k: walks.append(1) or real(*a, **k))
        m.setattr(menus, "WarmPath", OldWarmPath if old else WarmPath)
        if old:
            m.setattr(type(mapper), "action", lambda self, obs: int(
                self.model.predict(np.asarray(obs, dtype=np.float32), deterministic=True)[0]))
        out = run_backtest(cfg, prices, make_strategy=make, engine="sim")
    return out, len(walks)


def test_a_dqn_backtest_decides_as_the_old_path(home, mapper, monkeypatch):
    old, old_walks = _run(mapper, monkeypatch, old=True)
    new, new_walks = _run(mapper, monkeypatch, old=False)
    assert new_walks < old_walks  # the new warm start settled where the old one walked
    records = [json.dumps(r, default=str, sort_keys=True) for r in new.strategy.records]
    assert records == [json.dumps(r, default=str, sort_keys=True)
                       for r in old.strategy.records]
    assert len({r["action"] for r in new.strategy.records}) > 1
    np.testing.assert_allclose(new.strategy.returns.to_numpy(),
                               old.strategy.returns.to_numpy(), rtol=0, atol=1e-12)
    assert new.strategy.returns.index.equals(old.strategy.returns.index)
