"""The fast simulator against hand formulas and against zipline replaying the same decisions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport import data
from autoport.engines import simulator
from autoport.engines.costs import CostModel
from autoport.strategies.base import Decision

NO_COSTS = CostModel(commission_bps=0.0, slippage_bps=0.0)


def test_fill_timing_and_costs_by_hand():
    prices = np.array([[10.0, 20.0], [11.0, 20.0], [11.0, 22.0], [12.1, 22.0]])
    costs = CostModel(commission_bps=10.0, slippage_bps=50.0)
    out = simulator.simulate(prices, {0: np.array([0.5, 0.5])}, costs)
    # decided at close 0: 0.05 and 0.025 shares; filled at close 1 (buy at +50 bp)
    shares = np.array([0.05, 0.025])
    fill_price = prices[1] * 1.005
    commission = 0.001 * (shares @ fill_price)
    cash = 1.0 - shares @ fill_price - commission
    assert out.returns[1] == pytest.approx(cash + shares @ prices[1] - 1.0, abs=1e-15)
    assert out.costs[1] == pytest.approx(shares @ prices[1] * 0.005 + commission, abs=1e-15)
    assert out.values[3] == pytest.approx(cash + shares @ prices[3], abs=1e-15)
    # the first session only decides; the fill day still earns nothing from the new book
    assert out.returns[0] == 0.0 and out.returns[1] < 0


def test_rebalance_resets_drift_to_targets():
    prices = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 1.0], [2.0, 1.0], [2.0, 1.0]])
    out = simulator.simulate(prices, {0: np.array([0.5, 0.5]), 2: np.array([0.5, 0.5])})
    np.testing.assert_allclose(out.weights[2], [2 / 3, 1 / 3])
    np.testing.assert_allclose(out.weights[3], [0.5, 0.5])
    np.testing.assert_allclose(out.values[-1], 1.5)


def _replay(decisions: dict[pd.Timestamp, pd.Series]):
    class Replay:
        name = "replay"
        min_history = 1

        def decide(self, history: pd.DataFrame) -> Decision:
            day = history.index[-1]
            return Decision(day, decisions[day], "replayed")

    return Replay()


@pytest.mark.slow
@pytest.mark.parametrize("rebalance", ["every_day", "month_start"])
@pytest.mark.parametrize("costs", [NO_COSTS, CostModel()], ids=["no_costs", "default_costs"])
def test_simulator_matches_zipline(rebalance, costs):
    from autoport.engines import zipline_engine

    panel = data.bundled_prices().loc["2017-11-01":"2018-04-30"]
    sessions = panel.loc["2018-01-02":].index
    rng = np.random.default_rng(7)
    if rebalance == "every_day":
        dates = sessions
    else:
        dates = sessions.to_series().groupby(sessions.to_period("M")).first().values
        dates = pd.DatetimeIndex(dates)
    # weights sum to between 0.5 and 1: the rest stays in cash in both engines
    decisions = {
        d: pd.Series(rng.dirichlet(np.ones(panel.shape[1])) * rng.uniform(0.5, 1.0),
                     index=panel.columns)
        for d in dates
    }
    capital = 5e9  # large enough that integer shares barely matter, small for volume limits
    result = zipline_engine.run(
        _replay(decisions), panel, start=sessions[0], end=sessions[-1], costs=costs,
        capital=capital, rebalance=rebalance,
    )
    rows = {sessions.get_loc(d): w.to_numpy() for d, w in decisions.items()}
    sim = simulator.simulate(panel.loc[sessions].to_numpy(), rows, costs)
    diff = np.abs(result.returns.to_numpy() - sim.returns)
    assert len(result.decisions) == len(dates)
    assert diff.max() < 1e-8, f"max daily difference {diff.max():.2e}"
