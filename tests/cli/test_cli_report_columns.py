"""What the tables show (issue 18.10): `autoport runs` fills Sharpe and success for
train-agent runs, promotion's report fills "reported by the run", alerts read in percent, the
autopilot's taxes also as a share of capital."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from autoport import tracking
from autoport_cli.main import app


def test_runs_shows_sharpe_and_success_of_a_train_agent_run(home):
    """train-agent logs its held-out figures as test_*; the table used to leave them blank."""
    run_id = tracking.log_run(
        "agents", run_name="dqn-seed0", params={},
        metrics={"test_sharpe": 0.8123, "test_success_rate": 0.526, "test_max_drawdown": -0.091,
                 "validation_sharpe": 9.99},
        tags={"command": "train-agent"})
    res = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["runs"])
    assert res.exit_code == 0, res.output
    row = next(line for line in res.stdout.splitlines() if run_id in line)
    assert "0.812" in row and "52.6%" in row and "-9.1%" in row
    assert "9.99" not in row  # the validation figure is not the test one


def test_promotion_reports_what_a_train_agent_run_reported():
    from autoport.promotion.report import reported_period, reported_value

    logged = {"test_success_rate": 0.526, "test_sharpe": 0.81, "test_equal_weight_sharpe": 0.9,
              "sharpe_unrelated": 1.0}
    assert reported_value(logged, "success_rate") == 0.526
    assert reported_value(logged, "sharpe") == 0.81
    assert reported_value(logged, "equal_weight_sharpe") == 0.9
    assert reported_value(logged, "kupiec_pvalue") is None
    # a backtest run: its own names first (1/N logged as baseline_*)
    backtest = {"sharpe": 1.1, "baseline_sharpe": 0.98, "test_sharpe": 5.0}
    assert reported_value(backtest, "sharpe") == 1.1
    assert reported_value(backtest, "equal_weight_sharpe") == 0.98
    protocol = {"protocol": {"test_start": "2018-01-01", "test_end": None}}
    assert reported_period({}, protocol) == "2018-01-01 to the end of its prices"
    assert reported_period({"start_effective": "2015-01-02", "end_effective": "2017-12-29"},
                           None) == "2015-01-02 to 2017-12-29"
    assert "?" not in reported_period({}, None)


def test_alert_values_read_in_percent():
    from autoport_cli.stress import alert_figure

    assert alert_figure("drawdown", -0.1234) == "-12.34%"
    assert alert_figure("var_breach", -0.031) == "-3.10%"
    assert alert_figure("max_weight", 0.125) == "+12.50%"
    assert alert_figure("avg_correlation", 0.71) == "+0.71"  # a correlation, not a percent


def test_taxes_as_a_share_of_capital_beside_dollars(monkeypatch):
    import io

    from rich.console import Console

    from autoport.autopilot import aftertax
    from autoport_cli import backtest as cli

    days = pd.DatetimeIndex(pd.to_datetime(["2020-01-02", "2020-01-03", "2020-06-01",
                                            "2020-12-31", "2021-01-04"]))
    returns = pd.Series(0.0, index=days)
    tx = pd.DataFrame({"symbol": ["A", "A"], "amount": [100, -50], "price": [10.0, 14.0]},
                      index=pd.DatetimeIndex([days[0], days[2]]))
    out, _ = aftertax.compare({"strategy": (returns, tx), "baseline": (returns, tx.iloc[:0])},
                              capital=1000.0, short_rate=0.37, long_rate=0.2)
    # short-term gain 50 x (14 - 10) = 200, taxed at 37 %: 74 dollars, 7.4 % of 1,000
    assert out["strategy"]["taxes_paid"] == pytest.approx(74.0)
    assert out["strategy"]["taxes_paid_share"] == pytest.approx(0.074)
    out["strategy_name"] = "autopilot"
    sink = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=sink, width=200))
    cli._print_after_tax(out)
    text = sink.getvalue()
    assert "74" in text and "7.40%" in text and "of capital" in text
