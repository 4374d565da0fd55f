"""The fast simulator against hand formulas and against zipline replaying the same decisions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport import data
from autoport.engines import orders, simulator
from autoport.engines.costs import CostModel
from autoport.engines.orders import OrderSizing
from autoport.decision import Decision

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

        def decide(self, history: pd.DataFrame, book=None) -> Decision:
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


class _Recorder:
    """Replays fixed decisions and keeps every book it is handed."""

    name = "recorder"
    min_history = 1

    def __init__(self, decisions: dict[pd.Timestamp, pd.Series]) -> None:
        self.decisions, self.books = decisions, []

    def decide(self, history: pd.DataFrame, book=None) -> Decision:
        self.books.append(book)
        day = history.index[-1]
        return Decision(day, self.decisions[day], "replayed")


def test_the_simulator_hands_the_book_its_fills_made_by_hand():
    index = pd.bdate_range("2021-01-04", periods=4)
    prices = pd.DataFrame({"A": [10.0, 11.0, 11.0, 12.1], "B": [20.0, 20.0, 22.0, 22.0]},
                          index=index)
    costs = CostModel(commission_bps=10.0, slippage_bps=50.0)
    w = pd.Series({"A": 0.5, "B": 0.5})
    rec = _Recorder({index[0]: w, index[2]: w})
    run = simulator.run(rec, prices, dates=index[[0, 2]], costs=costs, capital=1000.0)
    first, second = rec.books
    assert first.cash == 1000.0 and (first.shares == 0).all() and first.fills == ()
    assert first.value == 1000.0 and (first.weights == 0).all()
    # decided at close 0: 50 A and 25 B; filled at close 1 at +50 bp, 10 bp commission
    fill_a, fill_b = 11.0 * 1.005, 20.0 * 1.005
    cash = 1000.0 - 50 * fill_a - 25 * fill_b - 0.001 * (50 * fill_a + 25 * fill_b)
    assert second.shares.to_dict() == pytest.approx({"A": 50.0, "B": 25.0})
    assert second.cash == pytest.approx(cash, abs=1e-12)
    assert second.value == pytest.approx(cash + 50 * 11.0 + 25 * 22.0, abs=1e-12)
    assert [(f.date, f.ticker, f.shares) for f in second.fills] == [
        (index[1], "A", pytest.approx(50.0)), (index[1], "B", pytest.approx(25.0))]
    assert second.fills[0].price == pytest.approx(fill_a)
    assert second.fills[0].commission == pytest.approx(0.001 * 50 * fill_a)
    assert run.values.iloc[1] == pytest.approx(cash + 50 * 11.0 + 25 * 20.0, abs=1e-12)
    assert run.returns.iloc[0] == 0.0


def test_order_sizing_rounds_skips_small_orders_and_keeps_a_buffer():
    prices = pd.Series({"A": 10.0, "B": 33.0, "C": 7.0})
    rules = OrderSizing(lot_size=10, min_trade_value=100.0, cash_buffer=0.1)
    target = pd.Series({"A": 0.5, "B": 0.5, "C": 0.005})
    new, notes = orders.size(target, pd.Series(0.0, index=prices.index), prices, 10_000.0,
                             costs=NO_COSTS, sizing=rules)
    # 90 % invested: A 0.45 * 10,000 / 10 = 450 shares; B 4,500 / 33 = 136.4 -> 140 (nearest
    # 10); C 0.0045 * 10,000 / 7 = 6.4 -> 10 shares = 70 < 100: skipped
    assert new.to_dict() == {"A": 450.0, "B": 140.0, "C": 0.0}
    assert "below the minimum" in notes[0]
    # holding the sized book again trades nothing, even with cash below zero
    held = pd.Series({"A": 450.0, "B": 140.0, "C": 0.0})
    weights = held * prices / (-10.0 + (held * prices).sum())
    again, notes = orders.size(weights, held, prices, -10.0, costs=CostModel(),
                               sizing=OrderSizing(lot_size=1, min_trade_value=100.0))
    assert again.to_dict() == held.to_dict() and not notes


@pytest.mark.slow
@pytest.mark.parametrize("costs", [NO_COSTS, CostModel()], ids=["no_costs", "default_costs"])
def test_both_engines_hand_the_same_books_under_order_rules(costs):
    from autoport.engines import zipline_engine

    panel = data.bundled_prices().loc["2017-11-01":"2018-04-30"]
    sessions = panel.loc["2018-01-02":].index
    rng = np.random.default_rng(3)
    dates = simulator.schedule(panel.index, sessions[0], sessions[-1], "week_start")
    decisions = {d: pd.Series(rng.dirichlet(np.ones(panel.shape[1])) * rng.uniform(0.5, 1.0),
                              index=panel.columns) for d in dates}
    rules = OrderSizing(lot_size=5, min_trade_value=20_000.0)
    zp, sim = _Recorder(decisions), _Recorder(decisions)
    result = zipline_engine.run(zp, panel, start=sessions[0], end=sessions[-1], costs=costs,
                                capital=1e7, rebalance="week_start", sizing=rules)
    run = simulator.run(sim, panel, start=sessions[0], end=sessions[-1], costs=costs,
                        capital=1e7, rebalance="week_start", sizing=rules)
    assert [b.date for b in zp.books] == [b.date for b in sim.books] == list(dates)
    for z, s in zip(zp.books, sim.books, strict=True):
        pd.testing.assert_series_equal(z.shares, s.shares, check_exact=True)
        assert (z.shares % 5 == 0).all()
        assert z.cash == pytest.approx(s.cash, rel=1e-9, abs=1e-6)
        assert [(f.date, f.ticker, f.shares) for f in z.fills] == [
            (f.date, f.ticker, f.shares) for f in s.fills]
        for a, b in zip(z.fills, s.fills, strict=True):
            assert a.price == pytest.approx(b.price, rel=1e-12)
            assert a.commission == pytest.approx(b.commission, rel=1e-9, abs=1e-9)
    assert any(b.fills for b in zp.books[1:])
    diff = np.abs(result.returns.to_numpy() - run.returns.to_numpy())
    assert diff.max() < 1e-8, f"max daily difference {diff.max():.2e}"
