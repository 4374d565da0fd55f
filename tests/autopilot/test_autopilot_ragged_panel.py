"""Issue 17 item 6: the autopilot on PyPortfolioOpt's price file, whose tickers list at
different dates (FB 2012-05-18, BABA 2014-09-19 inside the 2012-2016 cut).

Its regime detector reads the whole market (the index of the assets priced on each session),
as `autoport regime` does on the same file; its own targets hold only the assets with its
estimation window of prices. Rule-based (no DQN), with a small detector so it runs in seconds.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from autoport import data
from autoport.autopilot.regimes import AutopilotRegimes
from autoport.engines import simulator
from autoport.strategies import make_strategy

PYPFOPT = Path(__file__).resolve().parents[1] / "data" / "pypfopt_stock_prices.csv"
REGIME = {"detector": {"use": "jump_features_2", "min_train": 300, "n_restarts": 2},
          "refit_every": 250}
# FB has its 253-session window on 2013-07-01 (the history then starts before FB's listing);
# BABA gets it in 2015-09
DATES = pd.DatetimeIndex(["2013-07-01", "2014-07-01", "2015-10-01", "2016-12-01"])


@pytest.fixture(scope="module")
def ragged():
    raw = data.read_price_file(PYPFOPT).loc["2012-01-01":"2016-12-31"]
    assert raw.iloc[0].isna().sum() == 2  # FB and BABA list later
    return raw


@pytest.fixture(scope="module")
def decisions(ragged):
    pilot = make_strategy("autopilot", regime=REGIME)
    run = simulator.run(pilot, ragged, dates=DATES, end=ragged.index[-1])
    assert [d.date for d in run.decisions] == list(DATES)
    return pilot, run.decisions


def test_the_detector_reads_the_whole_ragged_market(ragged, decisions):
    pilot, made = decisions
    for decision in made:
        history = ragged.loc[: decision.date]
        probs = decision.details["inputs"]["regime_probabilities"]
        # a fresh detector on the whole history up to the decision (the same grid of fits)
        view = AutopilotRegimes(pilot.settings.regime).view(history)
        assert view is not None, decision.date
        assert "note" not in probs, (decision.date, probs)
        assert probs == pytest.approx(view.probabilities, abs=1e-8), decision.date


def test_targets_hold_only_assets_with_the_window(ragged, decisions):
    pilot, made = decisions
    for decision in made:
        w = decision.weights.reindex(ragged.columns)
        assert w.notna().all() and w.sum() <= 1 + 1e-9
        rows = ragged.loc[: decision.date].iloc[-pilot.min_history:]
        allowed = set(rows.columns[rows.notna().all().to_numpy()])
        held = set(w.index[w.abs() > 1e-12])
        assert held and held <= allowed, (decision.date, held - allowed)
        if decision.date < pd.Timestamp("2015-09-01"):
            assert w["BABA"] == 0.0


@pytest.mark.slow  # 38 s at load ~30 (torch and stable-baselines3 load, an env is built)
def test_its_dqn_observes_every_ticker_it_was_trained_on(ragged, monkeypatch):
    """With a DQN (untrained, seeded: what is tested is the plumbing) trained on all twenty
    tickers, the autopilot hands it the whole ragged history; its own weights stay on the
    assets with the autopilot's window."""
    from datetime import date

    from stable_baselines3 import DQN

    import autoport.strategies.dqn as dqn_module
    from autoport.envs import EnvConfig
    from autoport.envs.portfolio_env import PortfolioEnv
    from autoport.strategies.dqn import DQNPolicy
    from autoport.strategies.dqn.policy import PolicyMapper

    cfg = EnvConfig(estimation_window=60, momentum_window=40, lookback=10, vol_window=10,
                    rebalance_every=5, episode_length=30, schedule="every_k")
    env = PortfolioEnv(ragged.loc["2015-01-01":"2015-06-30"], cfg)  # all twenty listed
    mapper = PolicyMapper(DQN("MlpPolicy", env, seed=0, device="cpu", learning_starts=0,
                              policy_kwargs={"net_arch": [8]}),
                          cfg, list(ragged.columns), seen_until=date(2012, 1, 31))
    monkeypatch.setattr(dqn_module, "DQNPolicy", lambda model_uri: DQNPolicy(mapper=mapper))
    pilot = make_strategy("autopilot", regime={"enabled": False}, dqn_model_uri="runs:/x/model")
    run = simulator.run(pilot, ragged, dates=DATES, end=ragged.index[-1])
    assert [d.date for d in run.decisions] == list(DATES)
    for decision in run.decisions:
        assert any(n.startswith("DQN policy") for n in decision.details["notes"]), decision
        rows = ragged.loc[: decision.date].iloc[-pilot.min_history:]
        allowed = set(rows.columns[rows.notna().all().to_numpy()])
        held = set(decision.weights.index[decision.weights.abs() > 1e-12])
        assert held <= allowed, (decision.date, held - allowed)
