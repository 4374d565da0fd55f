"""``--engine sim``: the fast simulator as a backtest engine, against zipline on the same config."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest
from typer.testing import CliRunner

from autoport import data
from autoport.backtest import load_config, run_backtest
from autoport.engines.costs import CostModel
from autoport.strategies import make_strategy
from autoport_cli.main import app

NO_COSTS = CostModel(commission_bps=0.0, slippage_bps=0.0)


def _both(cfg, prices):
    zp = run_backtest(cfg, prices, make_strategy=make_strategy)
    sim = run_backtest(cfg, prices, make_strategy=make_strategy, engine="sim")
    return zp, sim


def _assert_equal_runs(zp, sim):
    assert (zp.engine, sim.engine) == ("zipline", "sim")
    assert (zp.start, zp.end) == (sim.start, sim.end)
    for a, b in ((zp.strategy, sim.strategy), (zp.baseline, sim.baseline)):
        assert a.returns.index.equals(b.returns.index)
        diff = np.abs(a.returns.to_numpy() - b.returns.to_numpy())
        assert diff.max() < 1e-8, f"{a.name}: max daily difference {diff.max():.2e}"
        assert [r["date"] for r in a.records] == [r["date"] for r in b.records]
        assert b.metrics["turnover"] == pytest.approx(a.metrics["turnover"], rel=1e-3)
        assert len(b.transactions) > 0


@pytest.mark.slow
@pytest.mark.parametrize("costs", [NO_COSTS, CostModel()], ids=["no_costs", "default_costs"])
@pytest.mark.parametrize("strategy", ["equal_weight", "mpt"])
def test_sim_engine_equals_zipline(home, strategy, costs):
    """Both engines place whole shares, so at the default capital (where a share is a
    visible part of a position) every daily return agrees within 1e-8."""
    prices = data.bundled_prices().loc["2016-01-01":"2018-06-29"]
    cfg = load_config(None, {"strategy": strategy, "window": 126, "start": "2017-01-01",
                             "rebalance": "week_start"})
    cfg = cfg.model_copy(update={"costs": costs, "capital": 1e6})
    zp, sim = _both(cfg, prices)
    _assert_equal_runs(zp, sim)
    # whole shares in both: the same transactions
    assert (sim.strategy.transactions["amount"] % 1 == 0).all()
    assert len(sim.strategy.transactions) == len(zp.strategy.transactions)


@pytest.mark.slow
def test_sim_engine_equals_zipline_for_the_autopilot_with_whole_share_orders(home):
    """With the engine's order rules the autopilot's decisions, trades and daily returns
    agree too."""
    prices = data.bundled_prices().loc["2006-01-01":"2008-12-31"]
    cfg = load_config(None, {"strategy": "autopilot", "start": "2007-06-01",
                             "orders": {"lot_size": 1, "min_trade_value": 5000}})
    cfg = cfg.model_copy(update={"strategy_params": {"settings": {
        "regime": {"enabled": False}, "tax_optimization": True, "calendar": "monthly"}}})
    zp, sim = _both(cfg, prices)
    _assert_equal_runs(zp, sim)
    trades = [[(t["ticker"], t["shares"]) for t in r["trades"]] for r in zp.strategy.records]
    assert trades == [[(t["ticker"], t["shares"]) for t in r["trades"]]
                      for r in sim.strategy.records]
    assert sum(map(len, trades)) > 50


@pytest.mark.slow
def test_cli_engine_sim_is_recorded_and_an_unknown_engine_refused(home, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "backtest", "--strategy", "equal_weight", "--start", "2019-01-01", "--end",
        "2019-06-28", "--engine", "sim", "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["engine"] == "sim"
    run = mlflow.get_run(payload["run_id"])
    assert run.data.tags["engine"] == "sim" and run.data.params["engine"] == "sim"
    assert (out / "daily_returns.csv").exists()
    bad = CliRunner().invoke(app, ["backtest", "--strategy", "equal_weight", "--engine", "fast"])
    # a usage error (exit 2, Typer's convention) naming the bad value and the choices
    assert bad.exit_code == 2 and "'fast'" in bad.output and "zipline" in bad.output
    assert "Traceback" not in bad.output
