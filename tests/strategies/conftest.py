"""A tiny DQN setting (synthetic prices, a few hundred steps) for training tests that must
stay fast: what they check (seeding, the CLI's outputs) does not need a good policy."""

from __future__ import annotations

import pandas as pd
import pytest

TINY_AGENT = {
    "seed": 5,
    "timesteps": 240,
    "env": {"estimation_window": 40, "momentum_window": 30, "lookback": 5, "vol_window": 5,
            "rebalance_every": 5, "episode_length": 30, "schedule": "every_k"},
    "dqn": {"net_arch": [16], "learning_starts": 60, "target_update_interval": 60,
            "batch_size": 16, "buffer_size": 1000},
    "protocol": {"train_end": "2000-12-31", "validation_start": "2001-01-01",
                 "validation_end": "2001-03-31", "test_start": "2001-04-01",
                 "episode_sessions": 15, "max_drawdown_limit": 0.10},
    "validation": {"eval_freq": 80, "patience": 2, "min_evals": 2},
}


@pytest.fixture(scope="module")
def tiny_agent_config() -> dict:
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in TINY_AGENT.items()}


@pytest.fixture(scope="module")
def tiny_agent_prices() -> pd.DataFrame:
    from autoport.synthetic import regime_switching_prices

    panel, _ = regime_switching_prices(520, seed=4, start="1999-06-01")
    return panel.iloc[:, :5]
