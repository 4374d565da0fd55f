"""The autopilot's per-decision shortcuts on arrays give what the pandas forms they skip give,
to the bit: the pre-trade caps when nothing is over a limit, the drift from the target on the
same tickers, and the sessions' positions on the regime path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport.autopilot import triggers
from autoport.optimize.capping import _scale_sectors, _water_fill, cap_positions, cap_sectors
from autoport.strategies.autopilot import _positions

TICKERS = [f"T{i}" for i in range(12)]
SECTORS = {t: ("tech", "energy", "health")[i % 3] for i, t in enumerate(TICKERS)}


def _weights(rng, cap: float) -> pd.Series:
    w = rng.dirichlet(np.full(len(TICKERS), 0.7)) * rng.uniform(0.6, 1.0)
    if rng.random() < 0.3:
        w[rng.integers(len(w))] = cap  # one exactly at the cap
    if rng.random() < 0.2:
        w[rng.integers(len(w))] = cap * (1 + 1e-10)  # within the caps' tolerance, above
    return pd.Series(w, index=TICKERS, name="weight")


@pytest.mark.parametrize("seed", range(40))
def test_caps_shortcut_equals_the_pandas_caps(seed):
    rng = np.random.default_rng(seed)
    cap = float(rng.choice([0.1, 0.15, 0.25, 0.4]))
    w = _weights(rng, cap)
    got, notes = cap_positions(w, cap)
    ref, ref_notes = _water_fill(w, cap)
    pd.testing.assert_series_equal(got, ref, check_exact=True)
    assert notes == ref_notes
    limits = {"tech": float(rng.uniform(0.2, 0.6)), "health": float(rng.uniform(0.2, 0.6))}
    got, notes = cap_sectors(w, SECTORS, limits)
    ref, ref_notes = _scale_sectors(w, SECTORS, limits)
    pd.testing.assert_series_equal(got, ref, check_exact=True)
    assert notes == ref_notes


def test_caps_shortcut_hands_nan_and_over_limit_weights_to_the_caps():
    w = pd.Series([0.5, np.nan, 0.2], index=["A", "B", "C"])
    for got, ref in ((cap_positions(w, 0.3), _water_fill(w, 0.3)),
                     (cap_sectors(w, {"A": "x", "C": "x"}, {"x": 0.5}),
                      _scale_sectors(w, {"A": "x", "C": "x"}, {"x": 0.5}))):
        pd.testing.assert_series_equal(got[0], ref[0], check_exact=True)
        assert got[1] == ref[1] and got[1]  # capped, with its sentence


@pytest.mark.parametrize("seed", range(20))
def test_drift_on_the_same_tickers_equals_the_union_form(seed):
    rng = np.random.default_rng(seed)
    current, target = _weights(rng, 0.2), _weights(rng, 0.2)
    if seed % 4 == 0:
        target.iloc[3] = current.iloc[3] + 1e-10  # below the record's 1e-9
    got = triggers.drift(current, target)
    assert got == _drift_pandas(current, target) and got.asset in TICKERS
    # another order of the target's tickers takes the union path, the pandas form itself
    assert triggers.drift(current, target.iloc[::-1]) == _drift_pandas(current,
                                                                       target.iloc[::-1])


def _drift_pandas(current: pd.Series, target: pd.Series) -> triggers.Drift:
    """The previous implementation (the reference)."""
    idx = current.index.union(target.index)
    diff = current.reindex(idx, fill_value=0.0) - target.reindex(idx, fill_value=0.0)
    absdiff = diff.abs()
    return triggers.Drift(float(absdiff.max()), str(absdiff.idxmax()),
                          float(absdiff.sum() / 2.0),
                          {str(k): float(v) for k, v in diff.items() if abs(v) > 1e-9})


def test_positions_equal_get_indexer():
    path = pd.bdate_range("2000-01-03", periods=3000)
    keys = pd.DatetimeIndex([path[0], path[17], pd.Timestamp("1999-12-31"), path[-1],
                             pd.Timestamp("2000-01-08"), pd.Timestamp("2030-01-01")])
    got = _positions(path, keys)
    assert np.array_equal(got, path.get_indexer(keys)) and got.dtype == np.intp
    assert list(got[[2, 4, 5]]) == [-1, -1, -1]
    unsorted = path[::-1]
    assert np.array_equal(_positions(unsorted, keys), unsorted.get_indexer(keys))


def _orders_pandas(before, after, prices, value, rate, whole):
    """The previous orders_between arithmetic on Series (the reference)."""
    from autoport.engines import orders

    tickers = prices.index
    before = before.reindex(tickers, fill_value=0.0).astype(float)
    after = after.reindex(tickers, fill_value=0.0).astype(float)
    delta = after - before
    if whole:
        delta = orders.whole_shares(delta)
    after = before + delta
    return [(t, float(delta[t] * prices[t]), float(before[t] * prices[t] / value),
             float(after[t] * prices[t] / value), float(abs(delta[t]) * prices[t] * rate))
            for t in tickers if delta[t] != 0]


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("whole", [False, True])
def test_orders_and_holding_weights_on_arrays_equal_the_series_forms(seed, whole):
    from autoport.autopilot import trades
    from autoport.engines.costs import CostModel

    rng = np.random.default_rng(seed)
    prices = pd.Series(rng.uniform(10, 300, len(TICKERS)), index=TICKERS, name="px")
    before = pd.Series(np.round(rng.uniform(0, 500, len(TICKERS))), index=TICKERS)
    after = before + rng.normal(0, 50, len(TICKERS)) * (rng.random(len(TICKERS)) < 0.6)
    after.iloc[2] = before.iloc[2] + 0.99999  # within 1e-4 of a whole share
    if seed % 2:
        after = after.iloc[::-1].drop(TICKERS[5])  # another order, a ticker missing
    value = float((before * prices).sum()) * 1.1
    costs = CostModel()
    got = trades.orders_between(before, after, prices, value, costs, whole_shares=whole)
    ref = _orders_pandas(before, after, prices, value, costs.total_rate, whole)
    assert [(o.ticker, o.value, o.weight_before, o.weight_after, o.est_cost)
            for o in got] == ref and ref
    for shares in (before, before.rename("px"), after):
        w = trades.holding_weights(shares, prices, value)
        pd.testing.assert_series_equal(
            w, (shares.reindex(prices.index, fill_value=0.0) * prices / value).astype(float),
            check_exact=True)


def test_gap_check_and_closes_equal_the_frame_forms():
    from autoport import data
    from autoport.decision import Book
    from autoport.strategies.autopilot import Autopilot, _has_gap
    from autoport.autopilot.state import AutopilotState
    from autoport.autopilot import tax

    prices = data.bundled_prices().iloc[-60:]
    gappy = prices.copy()
    gappy.iloc[3, 2] = np.nan
    for frame in (prices, gappy, prices.astype(object)):
        assert _has_gap(frame) == bool(frame.isna().to_numpy().any())
    book = Book(date=prices.index[-1], cash=5.0,
                shares=pd.Series(1.0, index=prices.columns),
                prices=(prices.iloc[-1] * 1.001).iloc[::-1])  # the engine's marks, reordered
    st = AutopilotState(taxbook=tax.TaxBook(), last_date=prices.index[-8])
    closes, elapsed = Autopilot()._closes_since_last(st, prices, book)
    ref = prices.loc[prices.index > prices.index[-8]].astype(float)
    ref.iloc[-1] = book.prices.reindex(ref.columns)
    pd.testing.assert_frame_equal(closes, ref, check_exact=True, check_freq=False)
    assert elapsed == 7
