"""Bad or unusual input is one message (or accepted when it only looks unusual), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from autoport import configfile, data
from autoport.errors import AutoportError, ConfigError, DataError
from autoport_cli.main import app


def _invoke(args):
    return CliRunner().invoke(app, args)


def _one_line(result) -> str:
    return " ".join(result.output.split())


def _real(tickers=("AAPL", "KO", "XOM"), start="2018-10-01", end="2019-06-28"):
    return data.bundled_prices().loc[start:end, list(tickers)]


def _as_new_york(panel: pd.DataFrame) -> pd.DataFrame:
    """What yfinance-style exports hold: session midnights in America/New_York (EST/EDT)."""
    out = panel.copy()
    out.index = panel.index.tz_localize("America/New_York")
    return out


# --- item 7: timezone-aware dates, row numbers ---------------------------------------------

def test_timezone_aware_csv_dates_become_session_dates(tmp_path):
    panel = _real()
    aware = tmp_path / "aware.csv"
    _as_new_york(panel).to_csv(aware)
    text = aware.read_text()
    assert "2019-01-02 00:00:00-05:00" in text and "2019-06-03 00:00:00-04:00" in text
    loaded = data.validate_prices(data.read_price_file(aware))
    assert loaded.index.tz is None
    assert loaded.index.equals(panel.index)
    np.testing.assert_allclose(loaded.to_numpy(), panel.to_numpy(), rtol=1e-15)


def test_timezone_aware_parquet_and_frames_become_session_dates(tmp_path):
    panel = _real()
    path = tmp_path / "aware.parquet"
    _as_new_york(panel).to_parquet(path)
    assert data.read_price_file(path).index.equals(panel.index)
    utc = panel.copy()
    utc.index = panel.index.tz_localize("UTC")
    assert data.validate_prices(utc).index.equals(panel.index)


def test_optimize_gives_the_same_weights_on_timezone_aware_dates(tmp_path, home):
    panel = _real(("AAPL", "KO", "XOM", "JPM"), "2016-01-01", "2019-06-28")
    plain, aware = tmp_path / "plain.csv", tmp_path / "aware.csv"
    panel.to_csv(plain)
    _as_new_york(panel).to_csv(aware)
    outputs = []
    for path in (plain, aware):
        result = _invoke(["optimize", "--prices", str(path), "--json", "--no-track",
                          "--objective", "min_volatility"])
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(result.stdout))
    assert outputs[0]["weights"] == outputs[1]["weights"]
    assert outputs[0]["estimation"] == outputs[1]["estimation"]


@pytest.mark.slow
def test_backtest_runs_on_timezone_aware_dates(tmp_path, home):
    """It crashed before: Cannot compare tz-naive and tz-aware timestamps."""
    aware = tmp_path / "aware.csv"
    _as_new_york(_real(("AAPL", "KO"), "2018-01-02", "2019-06-28")).to_csv(aware)
    result = _invoke(["backtest", "--prices", str(aware), "--strategy", "equal_weight",
                      "--start", "2019-03-01", "--window", "60", "--no-track", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["end"] == "2019-06-28"


def test_a_first_column_of_row_numbers_is_refused(tmp_path, home):
    path = tmp_path / "numbered.csv"
    _real().reset_index(drop=True).to_csv(path)  # 0, 1, 2, ... where the dates belong
    with pytest.raises(DataError, match=r"holds numbers \(0, 1, 2, \.\.\.\), not dates"):
        data.read_price_file(path)
    result = _invoke(["optimize", "--prices", str(path), "--no-track"])
    assert result.exit_code == 1
    assert "not dates" in _one_line(result) and "Traceback" not in result.output
    assert not home.exists()


# --- item 8: messages instead of tracebacks ----------------------------------------------------

@pytest.mark.parametrize("value", [1e300, 1e-300])
def test_implausible_price_magnitudes_name_the_ticker_and_date(tmp_path, home, value):
    panel = _real()
    panel.iloc[100, 1] = value
    day = panel.index[100].date()
    with pytest.raises(DataError, match=f"implausible price .* in column KO on {day}"):
        data.validate_prices(panel)
    path = tmp_path / "bad.csv"
    panel.to_csv(path)
    result = _invoke(["optimize", "--prices", str(path), "--no-track"])
    assert result.exit_code == 1, result.output
    assert f"column KO on {day}" in _one_line(result)
    assert not home.exists()


def test_the_bundled_panel_is_within_the_plausible_range():
    prices = data.bundled_prices()
    assert prices.min().min() > data.MIN_PRICE and prices.max().max() < data.MAX_PRICE


def test_a_date_that_is_a_word_is_one_message(home):
    with pytest.raises(DataError, match="'yesterday' is not a date; give it as YYYY-MM-DD"):
        data.parse_date("yesterday")
    assert data.parse_date("2019-01-31") == pd.Timestamp("2019-01-31")
    result = _invoke(["regime", "--as-of", "yesterday", "--no-track"])
    assert result.exit_code == 1
    assert "'yesterday' is not a date" in _one_line(result)


@pytest.mark.parametrize("command", ["stress", "train-agent"])
def test_a_negative_seed_is_a_usage_error(command, home):
    result = _invoke([command, "--seed", "-1", "--no-track"])
    assert result.exit_code == 2  # Typer's usage-error code, before any work
    assert "--seed" in result.output
    assert not home.exists()


def test_a_negative_seed_in_a_config_file_is_one_message(tmp_path, home):
    path = tmp_path / "stress.yaml"
    path.write_text("seed: -1\n")
    result = _invoke(["stress", "--config", str(path), "--no-track"])
    assert result.exit_code == 1
    assert "seed" in _one_line(result) and "greater than or equal to 0" in _one_line(result)


def _binary(tmp_path: Path) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_bytes(b"\xff\xfe\x00\x01 not text \x80\x81")
    return path


def test_a_binary_config_is_one_config_error_in_every_loader(tmp_path):
    from autoport.promotion.gates import load_gates
    from autoport.regime.config import load_config as load_regime
    from autoport.risk.config import load_stress_config
    from autoport.risk.monitoring import load_alert_rules
    from autoport.risk.stress import load_scenarios

    path = _binary(tmp_path)
    loaders = [configfile.read_mapping, load_gates, load_regime, load_stress_config,
               load_alert_rules, load_scenarios]
    for load in loaders:
        with pytest.raises(ConfigError, match=f"{path} is not a text file"):
            load(path)


@pytest.mark.parametrize("args", [
    ["stress", "--config"], ["stress", "--scenarios"], ["stress", "--alerts"],
    ["optimize", "--config"], ["regime", "--config"], ["backtest", "--config"],
    ["train-agent", "--config"],
])
def test_a_binary_config_is_one_message_for_every_option(tmp_path, home, args):
    result = _invoke([*args, str(_binary(tmp_path)), "--no-track"])
    assert result.exit_code == 1, result.output
    assert "is not a text file" in _one_line(result)
    assert not isinstance(result.exception, UnicodeDecodeError)
    assert not home.exists()


def test_errors_are_autoport_errors():
    assert issubclass(DataError, AutoportError) and issubclass(ConfigError, AutoportError)
