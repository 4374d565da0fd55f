"""The zipline bundle: one per data content, calendar mismatches named, fills as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport import data
from autoport.engines import zipline_engine
from autoport.engines.costs import CostModel
from autoport.errors import DataError
from autoport.strategies import make_strategy


def _panel():
    return data.bundled_prices().loc["2019-01-01":"2019-12-31", ["AAPL", "KO", "XOM"]]


def test_calendar_mismatch_names_the_dates():
    prices = _panel()
    dropped = prices.drop(prices.index[10])
    with pytest.raises(DataError, match=f"1 NYSE sessions have no prices \\(first: {prices.index[10].date()}"):
        zipline_engine.align_to_calendar(dropped)
    weekend = prices.rename(index={prices.index[5]: pd.Timestamp("2019-01-12")}).sort_index()
    with pytest.raises(DataError, match="1 dates are not NYSE sessions \\(first: 2019-01-12"):
        zipline_engine.align_to_calendar(weekend)


@pytest.mark.slow
def test_changed_data_get_their_own_bundle_and_same_data_reuse_it(shared_zipline_root):
    prices = _panel()
    changed = prices.copy()
    changed.iloc[-1, 0] *= 1.01
    first = zipline_engine.ensure_bundle(prices)
    again = zipline_engine.ensure_bundle(prices.copy())
    other = zipline_engine.ensure_bundle(changed)
    assert first == again != other
    ingested = shared_zipline_root / "data" / first
    assert len(list(ingested.iterdir())) == 1  # ingested once, reused the second time
    assert (shared_zipline_root / "data" / other).exists()


@pytest.mark.slow
def test_equal_weight_fills_at_next_close_without_costs():
    """With costs off, zipline's first days match a hand-built 1/N book bought at t+1's close."""
    prices = _panel()
    result = zipline_engine.run(
        make_strategy("equal_weight"), prices, start=prices.index[0], end=prices.index[40],
        costs=CostModel(commission_bps=0, slippage_bps=0), capital=1e9,
    )
    # Decision at session 0, fill at the close of session 1: no exposure until session 2.
    assert result.returns.iloc[0] == 0.0 and result.returns.iloc[1] == 0.0
    asset_returns = prices.pct_change().iloc[2:21]  # until the next month-start fill
    # order_target_percent sizes shares at the decision close (session 0); they fill at the
    # close of session 1 and the rest stays as cash.
    shares = (1e9 / 3) / prices.iloc[0]
    cash = 1e9 - (shares * prices.iloc[1]).sum()
    book = (prices.iloc[1:21] * shares).sum(axis=1) + cash
    expected = book.pct_change().iloc[1:]
    np.testing.assert_allclose(result.returns.iloc[2:21].to_numpy(), expected.to_numpy(), atol=1e-7)
    assert len(asset_returns) == 19
