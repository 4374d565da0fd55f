"""The tear sheet's rolling beta in one numpy pass equals pyfolio's per-session loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyfolio import timeseries

from autoport import data
from autoport.reporting.backtest import _vectorised_rolling_beta, rolling_beta


@pytest.mark.parametrize("window", [126, 252])
def test_rolling_beta_is_pyfolios(window):
    index = data.bundled_benchmark().pct_change().loc["2019-01-01":"2020-06-30"].fillna(0.0)
    strategy = data.bundled_prices().pct_change().loc[index.index].mean(axis=1)
    ref = timeseries.rolling_beta(strategy, index, rolling_window=window)  # pyfolio's loop
    got = rolling_beta(strategy, index, window)
    assert got.index.equals(ref.index)
    np.testing.assert_array_equal(got.isna().to_numpy(), ref.isna().to_numpy())
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-12, atol=1e-14)
    assert got.notna().sum() == len(got) - window


def test_the_patch_is_scoped_and_leaves_gappy_series_to_pyfolio():
    original = timeseries.rolling_beta
    index = pd.bdate_range("2020-01-01", periods=40)
    r = pd.Series(np.linspace(-0.01, 0.01, 40), index=index)
    f = pd.Series(np.sin(np.arange(40)) / 100, index=index)
    gappy = r.copy()
    gappy.iloc[3] = np.nan
    with _vectorised_rolling_beta():
        assert timeseries.rolling_beta is not original
        np.testing.assert_allclose(timeseries.rolling_beta(r, f, rolling_window=10),
                                   original(r, f, rolling_window=10), rtol=1e-12)
        np.testing.assert_array_equal(timeseries.rolling_beta(gappy, f, rolling_window=10),
                                      original(gappy, f, rolling_window=10))
    assert timeseries.rolling_beta is original
