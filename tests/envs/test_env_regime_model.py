"""The agent reuses a regime model logged by `autoport regime`, by run id, without look-ahead."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from autoport.errors import DataError
from autoport.synthetic import regime_switching_prices

REGIME_CONFIG = """
detector: {use: hmm_market_3, returns: market, min_train: 300, refit_every: 200, n_restarts: 2}
strategy:
  regimes:
    bull: {objective: max_sharpe}
    sideways: {objective: min_volatility}
    bear: {objective: min_volatility, window: 63}
"""


@pytest.fixture()
def logged_run(home, tmp_path):
    from autoport_cli.main import app

    prices = regime_switching_prices(900, seed=5)[0]
    path = tmp_path / "prices.csv"
    prices.to_csv(path, index_label="date")
    cfg = tmp_path / "regime.yaml"
    cfg.write_text(REGIME_CONFIG)
    res = CliRunner().invoke(app, ["regime", "--prices", str(path), "--config", str(cfg),
                                   "--as-of", "2001-12-31", "--json", "--out",
                                   str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    return prices, json.loads(res.stdout)["run_id"]


def test_env_and_strategy_observe_the_logged_model_only_after_its_training_end(logged_run):
    from autoport.envs.features import RegimeObservations, logged_regime_model
    from autoport.envs.portfolio_env import PortfolioEnv
    from autoport.regime.features import build_features
    from autoport.strategies.dqn.config import load_config

    prices, run_id = logged_run
    cfg = load_config(None, regime_model=run_id).env
    logged = logged_regime_model(run_id)
    assert cfg.regime_features and cfg.regime_detector == logged.detector  # the run's settings
    env = PortfolioEnv(prices, cfg)
    trained_to = logged.fit.train_end
    starts = prices.index[env._starts]
    assert starts.min() > trained_to  # no episode decides on a date the model was fitted on
    obs, _ = env.reset(seed=3)
    row = env._t
    date = prices.index[row]
    # the observation's last three values are the logged model's forward filter to that date,
    # computed from the history alone (so nothing after the date enters)
    history = prices.loc[:date]
    expected = logged.fit.filter(build_features(history, returns="market")).iloc[-1]
    np.testing.assert_allclose(obs[-3:], expected.to_numpy(), atol=1e-6)
    # the DQN strategy rebuilds the same numbers from the history, and refuses older dates
    online = RegimeObservations(cfg.regime_detector, cfg.regime_model)
    np.testing.assert_allclose(online.at(history), expected.to_numpy(), atol=1e-12)
    with pytest.raises(DataError, match="would look ahead"):
        online.at(prices.loc[:trained_to])


def test_regime_model_without_regime_features_is_refused():
    from autoport.envs.config import EnvConfig

    with pytest.raises(ValueError, match="regime_model needs regime_features: true"):
        EnvConfig(regime_model="abc")
