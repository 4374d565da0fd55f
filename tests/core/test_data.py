"""Price loading and validation: the bundled panel, and one clear error per bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport import data
from autoport.errors import DataError


def _panel(n=30, cols=("A", "B", "C")):
    index = pd.bdate_range("2020-01-01", periods=n)
    values = 100 + np.arange(n * len(cols), dtype=float).reshape(n, len(cols))
    return pd.DataFrame(values, index=index, columns=list(cols))


def test_bundled_data_is_the_documented_real_panel():
    prices = data.bundled_prices()
    assert prices.shape == (8313, 20)
    assert prices.index[0] == pd.Timestamp("1990-01-02")
    assert prices.index[-1] == pd.Timestamp("2022-12-28")
    assert data.validate_prices(prices).equals(prices)
    index = data.bundled_benchmark()
    assert index.index.equals(prices.index)
    assert index.iloc[0] == pytest.approx(359.69)
    sectors = data.sector_map()
    assert set(sectors) == set(prices.columns)
    assert sectors["AAPL"] == "Information Technology" and sectors["XOM"] == "Energy"
    assert data.bundled_factors().columns.tolist() == ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]


def test_content_hash_changes_with_one_price():
    prices = _panel()
    changed = prices.copy()
    changed.iloc[5, 1] *= 1.0001
    assert data.content_hash(prices) == data.content_hash(prices.copy())
    assert data.content_hash(prices) != data.content_hash(changed)


def _set(frame, row, col, value):
    frame = frame.copy()
    frame.iloc[row, frame.columns.get_loc(col)] = value
    return frame


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: _set(p.astype(object), 3, "A", "n/a"), "non-numeric value 'n/a' in column A"),
        (lambda p: _set(p, 4, "B", -1.0), "non-positive price -1.0 in column B"),
        (lambda p: _set(p, 4, "C", 0.0), "non-positive price 0.0 in column C"),
        (lambda p: pd.concat([p, p.iloc[[2]]]).sort_index(), "duplicate dates"),
        (lambda p: p.iloc[::-1], "not sorted"),
        (lambda p: p[["A"]], "at least two columns"),
        (lambda p: p.iloc[:5], "5 sessions but 10 are needed"),
    ],
)
def test_each_bad_input_gets_its_own_message(mutate, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        data.validate_prices(mutate(_panel()), min_history=10)


def test_nan_gaps_are_counted_and_located_and_filled_only_on_request():
    prices = _panel()
    prices.iloc[[7, 8], 0] = np.nan
    prices.iloc[11, 2] = np.nan
    with pytest.raises(DataError) as info:
        data.validate_prices(prices)
    text = str(info.value)
    assert "3 missing prices" in text
    assert f"A: 2 (first {prices.index[7].date()})" in text
    assert f"C: 1 (first {prices.index[11].date()})" in text
    assert "--ffill" in text
    filled = data.validate_prices(prices, ffill=True)
    assert filled.iloc[8, 0] == prices.iloc[6, 0]  # carried forward from the last price
    assert not filled.isna().any().any()


def test_late_listing_is_not_invented_even_with_ffill():
    prices = _panel()
    prices.iloc[:4, 1] = np.nan
    with pytest.raises(DataError, match=f"B from {prices.index[4].date()}"):
        data.validate_prices(prices, ffill=True)


def test_unknown_ticker_and_empty_window_are_named():
    prices = _panel()
    with pytest.raises(DataError, match="unknown ticker\\(s\\) ZZZ"):
        data.select(prices, ["A", "ZZZ"])
    with pytest.raises(DataError, match="--start 2030-01-01 is after the last date; the data cover"):
        data.slice_dates(prices, "2030-01-01", "2030-02-01")


def test_read_price_file_csv_and_parquet_round_trip(tmp_path):
    prices = _panel()
    prices.index.name = "date"
    prices.to_csv(tmp_path / "p.csv")
    prices.to_parquet(tmp_path / "p.parquet")
    for name in ("p.csv", "p.parquet"):
        loaded = data.validate_prices(data.read_price_file(tmp_path / name))
        np.testing.assert_allclose(loaded.to_numpy(), prices.to_numpy())
        assert loaded.index.equals(prices.index)
    with pytest.raises(DataError, match="does not exist"):
        data.read_price_file(tmp_path / "missing.csv")
    (tmp_path / "p.xlsx").write_text("x")
    with pytest.raises(DataError, match="unknown type"):
        data.read_price_file(tmp_path / "p.xlsx")


def test_shipped_backtest_config_is_the_defaults():
    from importlib import resources

    from autoport.backtest import BacktestConfig, load_config

    path = resources.files("autoport.configs").joinpath("backtest.yaml")
    assert load_config(path) == BacktestConfig()


def test_json_output_handles_dates_and_non_finite_numbers():
    import datetime

    from autoport.jsonable import to_jsonable

    out = to_jsonable({"a": datetime.datetime(2020, 1, 2, 3, 4), "b": datetime.date(2020, 1, 2),
                       "c": pd.Timestamp("2020-01-02"), "d": float("nan"), "e": np.int64(3)})
    assert out == {"a": "2020-01-02T03:04:00", "b": "2020-01-02", "c": "2020-01-02",
                   "d": None, "e": 3}


def test_trading_starts_when_the_strategy_can_decide():
    from autoport.backtest import BacktestConfig, trading_window

    prices = data.bundled_prices().loc["2000-01-01":"2004-12-31"]
    cfg = BacktestConfig(window=252)
    assert trading_window(prices, cfg)[0] == prices.index[252]
    # A strategy that needs 758 sessions (a regime detector) starts trading at session 757.
    assert trading_window(prices, cfg, min_history=758)[0] == prices.index[757]
    with pytest.raises(DataError, match="needs 1299 sessions"):
        trading_window(prices.iloc[:1000], cfg, min_history=1300)
