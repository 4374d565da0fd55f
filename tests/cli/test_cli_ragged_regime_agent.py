"""Issue 17 item 6: `autoport regime`, the regime strategy's backtest and `autoport train-agent`
end to end on PyPortfolioOpt's own price file, whose tickers list at different dates.

Cut to 2012-2016 (FB lists 2012-05-18, BABA 2014-09-19, both inside) and run with small
settings so each command takes seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from autoport import data
from autoport.engines import simulator
from autoport.strategies import make_strategy
from autoport_cli.main import app

PYPFOPT = Path(__file__).resolve().parents[1] / "data" / "pypfopt_stock_prices.csv"

DETECTOR = {"use": "jump_features_2", "min_train": 300, "refit_every": 250, "n_restarts": 2}


@pytest.fixture()
def ragged_file(tmp_path):
    raw = data.read_price_file(PYPFOPT).loc["2012-01-01":"2016-12-31"]
    assert raw.iloc[0].isna().sum() == 2  # FB and BABA list later
    path = tmp_path / "pypfopt.csv"
    raw.to_csv(path, index_label="date")
    return raw, path


def _run(args):
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return res


def test_regime_and_its_strategy_read_the_same_probabilities(ragged_file, tmp_path, home):
    """`autoport regime` labels the ragged file; the regime strategy's decisions on it read
    the same probabilities and hold BABA only once it has the estimation window."""
    import yaml

    raw, path = ragged_file
    regime_cfg = tmp_path / "regime.yaml"
    regime_cfg.write_text(yaml.safe_dump({"detector": DETECTOR}))
    res = _run(["regime", "--prices", str(path), "--config", str(regime_cfg), "--end",
                "2016-06-30", "--no-track", "--json", "--out", str(tmp_path / "regime")])
    assert "ragged panel" in " ".join(res.stderr.split())
    payload = json.loads(res.stdout)
    assert str(payload["as_of"]).startswith("2016-06-30")
    labels = pd.read_csv(tmp_path / "regime" / "regimes.csv", index_col="date",
                         parse_dates=True)
    # labels from the first fit on (features start after the 63-session warm-up)
    assert labels.index[0] == raw.index[1 + 63 + DETECTOR["min_train"]]
    # the regime strategy (refitting on the same grid) acts on the probability the report
    # shows for each decision date: both read the whole ragged history (the fast engine runs
    # the strategy as `autoport backtest --engine sim` does, without its tear sheet)
    strategy = make_strategy("regime", config={
        "detector": DETECTOR, "strategy": {"refit_every": DETECTOR["refit_every"]}})
    panel = data.validate_prices(raw.loc[:"2016-06-30"], ragged=True)
    run = simulator.run(strategy, panel, start=pd.Timestamp("2015-06-01"))
    assert len(run.decisions) >= 12
    for d in run.decisions:
        shown = labels.loc[d.date, ["bull", "bear", "sideways"]].astype(float)
        got = pd.Series(d.details["probabilities"])[shown.index]
        assert (got - shown).abs().max() < 1e-9, (d.date, got, shown)
    weights = pd.DataFrame({d.date: d.weights for d in run.decisions}).T
    # BABA enters once it has the longest policy window (252 sessions + 1) of prices
    enters = raw.index[raw.index.get_loc(raw["BABA"].first_valid_index()) + 252]
    assert (weights.loc[weights.index < enters, "BABA"] == 0).all()
    assert weights.index.min() < enters < weights.index.max()
    assert ((weights.sum(axis=1) > 0.69) & (weights.sum(axis=1) < 1 + 1e-9)).all()
    assert run.values.notna().all()


def test_train_agent_trains_and_tests_on_a_ragged_file(ragged_file, tmp_path, home):
    """`autoport train-agent` trains, selects and tests on the ragged file (BABA lists inside
    the training period); the menus themselves: tests/core/test_core_ragged_regime_menus.py."""
    import yaml

    _, path = ragged_file
    cfg = tmp_path / "dqn.yaml"
    cfg.write_text(yaml.safe_dump({
        "timesteps": 200,
        "env": {"estimation_window": 60, "momentum_window": 60,
                "actions": ["equal_weight", "min_variance", "max_sharpe", "inverse_vol"]},
        "dqn": {"learning_starts": 50, "buffer_size": 1000, "net_arch": [16]},
        "protocol": {"train_end": "2014-12-31", "validation_start": "2015-01-01",
                     "validation_end": "2015-06-30", "test_start": "2015-07-01",
                     "test_end": "2015-12-31"},
        "validation": {"eval_freq": 200, "patience": 1, "min_evals": 1},
    }))
    out = tmp_path / "agent"
    res = _run(["train-agent", "--config", str(cfg), "--prices", str(path), "--start",
                "2013-06-01", "--end", "2015-12-31", "--no-track", "--json", "--out",
                str(out)])
    payload = json.loads(res.stdout)
    assert payload["timesteps"] == 200
    # test: 2015-07..12 holds two 63-session episodes, scored beside the baselines
    assert len(payload["episodes"]) == 2
    assert set(payload["baselines"]) == {"equal_weight", "max_sharpe", "min_variance"}
    returns = pd.read_csv(out / "test_returns.csv", index_col="date")
    assert returns["agent"].notna().all() and len(returns) == 126
