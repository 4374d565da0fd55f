"""The incremental regime features and hysteresis a backtest's decisions use (issue 13 item 3).

:class:`FeatureStream` and :class:`Hysteresis` continue from the rows seen; the references are
the batch :func:`build_features` and :func:`hysteresis` on each whole history, which must agree
to the bit. A history that changes a row already seen (a perturbed past, another run) must be
rebuilt, never continued from the stale state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoport import data
from autoport.regime.features import FeatureStream, build_features
from autoport.regime.hysteresis import Hysteresis, hysteresis

PYPFOPT = Path(__file__).resolve().parents[1] / "data" / "pypfopt_stock_prices.csv"
SETTINGS = [
    {"returns": "features", "horizons": (5, 21, 63)},
    {"returns": "features", "horizons": (5, 21), "realized_vol": True, "vol_window": 10},
    {"returns": "market"},
    {"returns": "assets"},
]


@pytest.fixture(scope="module")
def prices():
    return data.bundled_prices().iloc[:2600]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return (a.index.equals(b.index) and list(a.columns) == list(b.columns)
            and np.array_equal(a.to_numpy(), b.to_numpy()))


@pytest.mark.parametrize("kwargs", SETTINGS, ids=lambda k: "-".join(map(str, k.values())))
def test_the_stream_equals_the_batch_build_on_every_grown_history(prices, kwargs):
    stream = FeatureStream(**kwargs)
    ends = [400, 401, 402, 420, 463, 700, 701, *range(800, len(prices) + 1, 97), len(prices)]
    for end in ends:
        assert _same(stream(prices.iloc[:end]), build_features(prices.iloc[:end], **kwargs)), end
    assert stream.rebuilds == 1  # every later call continued the first build


def test_a_changed_past_or_a_shorter_history_is_rebuilt_not_continued(prices):
    kwargs = SETTINGS[0]
    stream = FeatureStream(**kwargs)
    stream(prices.iloc[:1500])
    bumped = prices.iloc[:1600].copy()
    bumped.iloc[900, 3] *= 1.05  # a row the stream has seen
    assert _same(stream(bumped), build_features(bumped, **kwargs))
    assert stream.rebuilds == 2
    # another run over the original prices, from an earlier date
    assert _same(stream(prices.iloc[:1200]), build_features(prices.iloc[:1200], **kwargs))
    redated = prices.iloc[:1300].copy()
    redated.index = redated.index + pd.Timedelta(days=1)
    assert _same(stream(redated), build_features(redated, **kwargs))
    assert stream.rebuilds == 4


def test_the_stream_on_a_ragged_panel_equals_the_batch_build():
    """BABA lists inside the period (PyPortfolioOpt's file): the index's returns go through
    pandas' ragged path, the new rows' through the stream's."""
    raw = data.read_price_file(PYPFOPT).loc["2013-01-01":"2016-12-31"]
    panel = data.validate_prices(raw, ragged=True)
    for kwargs in (SETTINGS[0], SETTINGS[2], SETTINGS[3]):
        stream = FeatureStream(**kwargs)
        for end in range(300, len(panel) + 1, 23):
            assert _same(stream(panel.iloc[:end]), build_features(panel.iloc[:end], **kwargs))


def test_the_hysteresis_walk_continues_and_restarts_like_the_batch_walk():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(3000, 3))
    x = np.zeros_like(z)
    for t in range(1, len(z)):  # persistent log-odds: spells of each regime
        x[t] = 0.95 * x[t - 1] + z[t]
    e = np.exp(x - x.max(axis=1, keepdims=True))
    probs = pd.DataFrame(e / e.sum(axis=1, keepdims=True), columns=["bull", "bear", "sideways"],
                         index=pd.bdate_range("2001-01-01", periods=3000))
    rule = {"threshold": 0.7, "hold_days": 5, "min_hold": 21}
    walk = Hysteresis(**rule)
    for end in [1, 2, 50, 51, *range(100, 3001, 37), 3000]:
        got, want = walk(probs.iloc[:end]), hysteresis(probs.iloc[:end], **rule)
        assert got.equals(want), end
    labels = want.to_numpy()
    assert (labels[1:] != labels[:-1]).sum() > 20  # it does switch (61 times)
    changed = probs.copy()
    changed.iloc[1000] = [0.0, 1.0, 0.0]
    changed.iloc[1001:1010] = [0.0, 1.0, 0.0]
    assert walk(changed).equals(hysteresis(changed, **rule))
    assert not walk(changed).equals(hysteresis(probs, **rule))
