"""The turnover computed without pyfolio equals pyfolio's own, run here on the same frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyfolio import txn

from autoport import data
from autoport.engines import simulator
from autoport.engines.costs import CostModel
from autoport.metrics import daily_turnover, summary
from autoport.strategies import make_strategy


def _pyfolio(positions, transactions):
    frame = transactions.copy()
    frame["sid"] = frame["symbol"]
    return txn.get_turnover(positions, frame)


def _assert_same(positions, transactions):
    ours, theirs = daily_turnover(positions, transactions), _pyfolio(positions, transactions)
    pd.testing.assert_index_equal(ours.index, theirs.index)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=0, atol=1e-12)
    assert summary(pd.Series(0.0, index=positions.index), positions=positions,
                   transactions=transactions)["turnover"] == pytest.approx(
        np.nanmean(theirs.to_numpy()) * 252, rel=1e-12, abs=1e-12)


def test_turnover_of_a_simulated_mpt_year_equals_pyfolios():
    prices = data.bundled_prices().loc[:"2012-12-31"]
    run = simulator.run(make_strategy("mpt", window=126), prices, start=pd.Timestamp("2012-01-03"),
                        end=prices.index[-1], rebalance="month_start", costs=CostModel(),
                        capital=1_000_000.0, whole_shares=True)
    transactions = simulator.transactions_frame(run.fills)
    assert len(transactions) > 20 and transactions.index.nunique() >= 12  # a fill a month at least
    _assert_same(run.positions, transactions)


def test_turnover_edge_cases_equal_pyfolios():
    """Intraday UTC stamps (zipline's), several fills a day, a fill on a day without a
    position row, a day without fills, and a first day bought from cash."""
    days = pd.date_range("2021-03-01", periods=4, freq="B", tz="UTC")
    positions = pd.DataFrame({"AAA": [600.0, 300.0, 0.0, 250.0], "BBB": [0.0, 350.0, 700.0, 400.0],
                              "cash": [400.0, 352.0, 300.0, 351.0]}, index=days)
    stamps = pd.DatetimeIndex(["2021-03-01 14:31", "2021-03-02 14:31", "2021-03-02 20:00",
                               "2021-03-03 14:31", "2021-03-08 14:31"], tz="UTC")
    transactions = pd.DataFrame({"symbol": ["AAA", "AAA", "BBB", "AAA", "BBB"],
                                 "amount": [6.0, -3.0, 3.5, -3.0, 1.0],
                                 "price": [100.0, 100.0, 100.0, 100.0, 101.0]}, index=stamps)
    _assert_same(positions, transactions)
    # by hand, day 2: traded 300 + 350 = 650 over the mean book (600 + 650) / 2 = 625
    assert daily_turnover(positions, transactions).iloc[1] == pytest.approx(650 / 625, rel=1e-15)
