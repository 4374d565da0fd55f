"""train-agent sweeps: trials train the DQN on a small synthetic panel, ASHA on its evaluations.

The agent's settings and protocol are those of ``tests/test_agent.py`` (600 steps, validation
2002-01..2002-06, test from 2002-07). A trial reads the validation period only; the chosen
settings are then trained once per seed with the test period evaluated.
"""

from __future__ import annotations

import pandas as pd
import pytest

from autoport.testing import TINY_AGENT
from autoport import configfile
from autoport.strategies.dqn.sweep import agent_trial, sweep_agent
from autoport.sweep.spec import SweepSpec
from autoport.synthetic import regime_switching_prices

pytestmark = pytest.mark.slow
pytest.importorskip("ray")

BASE = TINY_AGENT


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    panel, _ = regime_switching_prices(900, seed=11, start="1999-06-01")
    return panel


def test_a_trial_reads_the_validation_period_only_and_reports_each_evaluation(prices):
    points = []
    outcome = agent_trial(BASE, 0, lambda step, m: points.append((step, m)), prices=prices)
    assert [p[0] for p in points] == [200, 400, 600]
    # best so far: the success rate never falls from one report to the next
    rates = [p[1]["success_rate"] for p in points]
    assert rates == sorted(rates) and outcome.metrics["success_rate"] == rates[-1]
    days = outcome.returns.index
    assert days.min() >= pd.Timestamp("2002-01-01") and days.max() <= pd.Timestamp("2002-06-30")


def test_an_agent_sweep_end_to_end(local_ray, prices, tmp_path):
    spec = configfile.validate(SweepSpec, {
        "target": "train-agent", "metric": "success_rate", "scheduler": "asha",
        "search": "grid", "seeds": [0, 1], "space": {"dqn.gamma": {"grid": [0.5, 0.9]}}},
        "spec")
    report = sweep_agent(spec, BASE, prices, storage=tmp_path, name="agent")
    board = report.result.leaderboard()
    assert len(board) == 2 and set(board["status"]) <= {"ok", "stopped"}
    assert report.chosen["dqn"]["gamma"] == report.result.winner.params["dqn.gamma"]
    assert report.chosen["timesteps"] == 600  # the rest of the base config is kept
    # the test period, once per seed, on its own episodes (from 2002-07)
    assert len(report.test) == 2
    assert all(t["period"] == "test" for t in report.test)
    assert all(e["start"] >= pd.Timestamp("2002-07-01") for t in report.test
               for e in t["episodes"])
    m = report.metrics()
    assert 0.0 <= m["test_success_rate"] <= 1.0 and 0.0 <= m["deflated_sharpe"] <= 1.0
    assert m["test_equal_weight_success_rate"] == 0.0  # 1/N never beats itself
