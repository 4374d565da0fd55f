"""Issue 17 items 9 and 10 and the misleading texts: what a user's input is told.

- a one-day jump that reverses (a bad tick) is refused naming the ticker and date, unless
  ``--allow-jumps``; ``--as-of`` past the data is said; ``regime --recent -3`` is a usage error;
- dates that are not NYSE sessions: every command takes the file's rows as sessions and says so;
  the zipline engine alone needs NYSE sessions;
- messages name what the user gave (``--as-of``, an option) and a partial regime file is merged
  over the bundled one.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from autoport import data
from autoport.errors import ConfigError, DataError
from autoport_cli.main import app


def _invoke(args):
    return CliRunner().invoke(app, args)


def _text(result) -> str:
    return " ".join(result.output.split())


def _real(tickers=("AAPL", "KO", "XOM"), start="2016-01-01", end="2019-06-28"):
    return data.bundled_prices().loc[start:end, list(tickers)]


# --- item 9 ---------------------------------------------------------------------------------

def test_a_bad_tick_is_found_by_ticker_and_date():
    panel = _real()
    panel.iloc[300, 1] *= 100  # one day x100, back the next session
    day = panel.index[300]
    found = data.find_jumps(panel)
    assert [(t, d) for t, d, _ in found] == [("KO", day)]
    clean = _real()
    assert found[0][2] == pytest.approx(100 * clean.iloc[300, 1] / clean.iloc[299, 1])
    with pytest.raises(DataError, match=f"KO on {day.date()}.*--allow-jumps"):
        data.validate_prices(panel, allow_jumps=False)
    # a level shift that stays (a split left unadjusted) is not a reversing tick
    shifted = _real()
    shifted.iloc[300:, 1] *= 10
    assert data.find_jumps(shifted) == []
    assert data.find_jumps(data.bundled_prices()) == []


@pytest.mark.parametrize("command", ["optimize", "stress"])
def test_commands_refuse_a_bad_tick_unless_allowed(tmp_path, home, command):
    panel = _real()
    panel.iloc[300, 1] *= 100
    path = tmp_path / "tick.csv"
    panel.to_csv(path)
    args = [command, "--prices", str(path), "--no-track", "--json"]
    if command == "stress":
        args += ["--method", "parametric", "--backtest-window", "100"]
    refused = _invoke(args)
    assert refused.exit_code == 1
    assert f"KO on {panel.index[300].date()}" in _text(refused)
    assert not home.exists()
    if command == "optimize":
        allowed = _invoke([*args, "--allow-jumps", "--frontier-points", "0", "--objective",
                           "min_variance"])
        assert allowed.exit_code == 0, allowed.output


def test_as_of_past_the_data_is_said(tmp_path, home):
    path = tmp_path / "p.csv"
    _real().to_csv(path)
    res = _invoke(["optimize", "--prices", str(path), "--as-of", "2030-01-01", "--no-track",
                   "--json", "--frontier-points", "0"])
    assert res.exit_code == 0, res.output
    assert "--as-of 2030-01-01 lies past the data; using its last date, 2019-06-28" in _text(res)
    assert json.loads(res.stdout)["estimation"]["end"] == "2019-06-28"


def test_as_of_before_the_data_names_the_option_not_a_start_the_user_never_gave(home):
    res = _invoke(["optimize", "--as-of", "1980-01-01", "--no-track"])
    assert res.exit_code == 1
    text = _text(res)
    assert "--as-of 1980-01-01 is before the first date" in text
    assert "swap" not in text and "start" not in text.split("error:")[1].split(";")[0]


def test_regime_recent_must_not_be_negative(home):
    res = _invoke(["regime", "--recent", "-3", "--no-track"])
    assert res.exit_code == 2
    assert "--recent" in _text(res)


# --- item 10 --------------------------------------------------------------------------------

def test_non_nyse_dates_are_taken_as_sessions_and_said(tmp_path, home):
    panel = _real()
    saturday = pd.Timestamp("2018-06-16")
    assert saturday.dayofweek == 5
    panel.loc[saturday] = panel.loc[:saturday].iloc[-1]
    panel = panel.sort_index()
    assert list(data.non_nyse_dates(panel.index)) == [saturday]
    path = tmp_path / "sat.csv"
    panel.to_csv(path)
    for args in (["optimize", "--frontier-points", "0"],
                 ["stress", "--method", "parametric", "--backtest-window", "100"]):
        res = _invoke([*args, "--prices", str(path), "--no-track", "--json"])
        assert res.exit_code == 0, res.output
        assert "1 date(s) in" in _text(res) and "not NYSE sessions (first: 2018-06-16)" in _text(res)


def test_the_zipline_calendar_message_points_to_the_sim_engine():
    from autoport.engines.zipline_engine import align_to_calendar

    panel = _real(start="2018-01-01")
    panel.loc[pd.Timestamp("2018-06-16")] = panel.iloc[0]
    with pytest.raises(DataError, match="--engine sim"):
        align_to_calendar(panel.sort_index())


# --- misleading texts -----------------------------------------------------------------------

def test_an_option_error_names_the_option_not_a_config_file(home):
    res = _invoke(["backtest", "--window", "5", "--engine", "sim", "--no-track"])
    assert res.exit_code == 1
    text = _text(res)
    assert "--window" in text and "defaults" not in text and "config in" not in text
    from autoport.strategies.dqn.config import load_config

    with pytest.raises(ConfigError) as err:
        load_config(None, {"timesteps": -5})
    assert "--timesteps" in str(err.value) and "defaults" not in str(err.value)


def test_a_partial_regime_file_is_merged_over_the_bundled_one(tmp_path):
    from autoport.regime.config import load_config

    path = tmp_path / "regime.yaml"
    path.write_text("detector:\n  min_train: 300\n")
    cfg = load_config(path)
    assert cfg.detector.min_train == 300
    assert cfg.strategy == load_config().strategy
    path.write_text("detector:\n  min_train: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "min_train" in str(err.value) and "strategy" not in str(err.value)


def test_a_return_of_minus_100_percent_does_not_blame_zeros():
    from autoport.risk.var_common import as_returns

    with pytest.raises(DataError) as err:
        as_returns([[0.01, -1.0], [0.0, 0.0], [0.01, 0.02]])
    assert "zeros" not in str(err.value)


# --- item 6: every option a message suggests exists on that command ---------------------------

def _suggested_options_exist(command, message):
    import re

    helped = " ".join(_invoke([command, "--help"]).output.split())
    options = set(re.findall(r"(--[a-z][a-z-]+)", message))
    assert options, message
    missing = [o for o in options if o not in helped]
    assert not missing, (command, missing, message)


@pytest.mark.parametrize("command,extra", [
    ("regime", []), ("stress", ["--method", "parametric"]), ("optimize", []),
    ("backtest", ["--engine", "sim"]), ("train-agent", []), ("walk-forward", []),
])
def test_messages_suggest_only_options_the_command_has(tmp_path, home, command, extra):
    gap = _real(start="2019-01-01")
    gap.iloc[40, 0] = float("nan")  # an inner gap: the message offers --ffill
    short = _real(start="2019-05-01")  # too short for every command's window
    # (a late listing is no error: every command here takes ragged panels)
    for name, frame in (("gap", gap), ("short", short)):
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path)
        res = _invoke([command, "--prices", str(path), "--no-track", *extra])
        assert res.exit_code == 1, (name, res.output)
        _suggested_options_exist(command, _text(res))


def test_monitor_messages_suggest_only_its_options(tmp_path, home):
    late = _real()
    late.iloc[:50, 2] = float("nan")  # monitor's history must be complete: it names --start
    gap = _real()
    gap.iloc[40, 0] = float("nan")  # --ffill
    jump = _real()
    jump.iloc[300, 1] *= 100  # a bad tick: --allow-jumps
    for name, frame in (("late", late), ("gap", gap), ("jump", jump)):
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path)
        res = _invoke(["monitor", "--prices", str(path), "--feed", str(path), "--strategy",
                       "equal_weight", "--no-track", "--out", str(tmp_path / name)])
        assert res.exit_code == 1, (name, res.output)
        _suggested_options_exist("monitor", _text(res))
