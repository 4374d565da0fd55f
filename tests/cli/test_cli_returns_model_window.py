"""Issue 17 item 18: ``--returns-model arithmetic`` beside ``mean`` (CAGR), and
``autoport stress --window all``."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from autoport import data, estimators
from autoport_cli.main import app


def _panel():
    return data.bundled_prices().loc["2017-01-01":"2019-12-31", ["AAPL", "KO", "XOM", "JPM"]]


def test_arithmetic_is_252_times_the_mean_daily_simple_return():
    prices = _panel()
    by_hand = 252 * (prices.to_numpy()[1:] / prices.to_numpy()[:-1] - 1).mean(axis=0)
    got = estimators.expected_returns(prices, "arithmetic")
    np.testing.assert_allclose(got.to_numpy(), by_hand, rtol=1e-12)
    # the CAGR default is a different number: (last/first)^(252/T) - 1
    years = (len(prices) - 1) / 252
    cagr = (prices.iloc[-1] / prices.iloc[0]) ** (1 / years) - 1
    np.testing.assert_allclose(estimators.expected_returns(prices, "mean"), cagr, rtol=1e-12)
    assert not np.allclose(got, cagr)


def test_optimize_takes_returns_model_arithmetic(tmp_path, home):
    path = tmp_path / "p.csv"
    _panel().to_csv(path)
    res = CliRunner().invoke(app, ["optimize", "--prices", str(path), "--returns-model",
                                   "arithmetic", "--objective", "max_sharpe", "--window", "all",
                                   "--frontier-points", "0", "--no-track", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["estimation"]["returns_model"] == "arithmetic"


def test_stress_window_all_uses_every_session(tmp_path, home):
    path = tmp_path / "p.csv"
    panel = _panel()
    panel.to_csv(path)
    args = ["stress", "--prices", str(path), "--method", "parametric", "--backtest-window",
            "100", "--no-track", "--json", "--window"]
    res = CliRunner().invoke(app, [*args, "all"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["estimation"]["observations"] == len(panel) - 1
    bad = CliRunner().invoke(app, [*args, "most"])
    assert bad.exit_code == 1 and "'all'" in bad.output
    short = CliRunner().invoke(app, [*args, "10"])
    assert short.exit_code == 1 and "30" in short.output
