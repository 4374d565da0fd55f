"""``--engine sim`` equals zipline within 1e-8 a day for every strategy it supports, on a short
period with default costs (seconds each; the longer runs are in test_backtest_engines.py)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from autoport import data
from autoport.backtest import load_config, run_backtest
from autoport.strategies import make_strategy

# the slice test_backtest_engines.py uses too: one bundle ingested for both files
PANEL = ("2016-01-01", "2018-06-29")
PARAMS = {
    "equal_weight": {},
    "mpt": {},
    "regime": {"min_train": 300, "refit_every": 60, "n_restarts": 1, "refit_restarts": 1,
               "n_iter": 30},
    "autopilot": {"settings": {"regime": {"enabled": False}, "calendar": "monthly"}},
}


def _dqn_factory(prices):
    """An untrained, seeded DQN policy on a small menu: what is compared is the engines."""
    from stable_baselines3 import DQN

    from autoport.envs import EnvConfig
    from autoport.envs.portfolio_env import PortfolioEnv
    from autoport.strategies.dqn import DQNPolicy
    from autoport.strategies.dqn.policy import PolicyMapper

    cfg = EnvConfig(estimation_window=60, momentum_window=40, lookback=10, vol_window=10,
                    rebalance_every=5, episode_length=30, schedule="every_k")
    env = PortfolioEnv(prices.loc["2017-02-01":"2017-06-30"], cfg)
    mapper = PolicyMapper(DQN("MlpPolicy", env, seed=0, device="cpu", learning_starts=0,
                              policy_kwargs={"net_arch": [8]}),
                          cfg, list(prices.columns), seen_until=date(2017, 6, 30))

    def make(name, **params):
        return DQNPolicy(mapper=mapper) if name == "dqn" else make_strategy(name, **params)
    return make


SLOW = pytest.mark.slow  # 10-35 s each under load (model fits, an env, the autopilot's checks)


@pytest.mark.parametrize("strategy", ["equal_weight", "mpt", pytest.param("regime", marks=SLOW),
                                      pytest.param("dqn", marks=SLOW),
                                      pytest.param("autopilot", marks=SLOW)])
def test_each_strategy_trades_alike_in_both_engines(home, strategy):
    prices = data.bundled_prices().loc[PANEL[0]:PANEL[1]]
    factory = _dqn_factory(prices) if strategy == "dqn" else make_strategy
    cfg = load_config(None, {"strategy": strategy, "window": 126, "start": "2018-02-01",
                             "end": "2018-05-31", "rebalance": "week_start",
                             "capital": 1e6, "strategy_params": PARAMS.get(strategy, {})})
    runs = {engine: run_backtest(cfg, prices, make_strategy=factory, engine=engine)
            for engine in ("zipline", "sim")}
    zp, sim = runs["zipline"], runs["sim"]
    assert (zp.start, zp.end) == (sim.start, sim.end)
    for a, b in ((zp.strategy, sim.strategy), (zp.baseline, sim.baseline)):
        assert a.returns.index.equals(b.returns.index) and len(a.returns) > 60
        diff = np.abs(a.returns.to_numpy() - b.returns.to_numpy())
        assert diff.max() < 1e-8, f"{a.name}: max daily difference {diff.max():.2e}"
        assert [r["date"] for r in a.records] == [r["date"] for r in b.records]
        assert len(a.records) >= 15  # weekly decisions over four months
        np.testing.assert_allclose(b.weights.to_numpy(), a.weights.to_numpy(), atol=1e-12)
        # both trade: costs are charged and the comparison is not of two idle books
        assert len(b.transactions) > 0 and len(b.transactions) == len(a.transactions)


@pytest.mark.parametrize(("strategy", "runs"), [("equal_weight", 1), ("mpt", 2)])
def test_the_1n_column_reuses_the_strategy_run_when_the_strategy_is_1n(strategy, runs):
    """`backtest --strategy equal_weight` runs 1/N once and shows it in both columns; any other
    strategy (or 1/N with parameters) gets its own 1/N run."""
    prices = data.bundled_prices().loc[PANEL[0]:PANEL[1]]
    made = []

    def factory(name, **params):
        made.append(name)
        return make_strategy(name, **params)

    cfg = load_config(None, {"strategy": strategy, "window": 126, "start": "2018-02-01",
                             "end": "2018-05-31"})
    outcome = run_backtest(cfg, prices, make_strategy=factory, engine="sim")
    assert len(made) == runs
    reference = run_backtest(load_config(None, {"strategy": "equal_weight", "window": 126,
                                                "start": outcome.start.date(),
                                                "end": "2018-05-31"}),
                             prices, make_strategy=make_strategy, engine="sim").strategy
    np.testing.assert_array_equal(outcome.baseline.returns, reference.returns)
    assert outcome.baseline.metrics == reference.metrics
