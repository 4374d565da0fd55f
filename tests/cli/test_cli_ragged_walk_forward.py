"""Issue 17 item 6: `autoport walk-forward` on PyPortfolioOpt's price file, whose tickers list
at different dates (FB 2012-05-18 and BABA 2014-09-19 inside the 2012-2016 cut).

Each fold's strategy holds an asset once it has the strategy's window of prices (the engine's
``decide_investable``); 1/N holds the assets priced on the decision date. A fold tested
before BABA lists never sees a BABA price at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from autoport import data
from autoport.backtest import BacktestConfig
from autoport.strategies import make_strategy
from autoport.walkforward import WalkForwardSettings, plan
from autoport.walkforward.run import run_block
from autoport_cli.main import app

PYPFOPT = Path(__file__).resolve().parents[1] / "data" / "pypfopt_stock_prices.csv"
LAYOUT = {"groups": 3, "test_groups": 1, "purge": 5, "embargo": 5}


@pytest.fixture(scope="module")
def ragged():
    raw = data.read_price_file(PYPFOPT).loc["2012-01-01":"2016-12-31"]
    assert raw.iloc[0].isna().sum() == 2  # FB and BABA list later
    return raw


@pytest.mark.slow  # 30 s at load ~30 (Ray workers import autoport), most of it waiting
def test_walk_forward_cli_takes_a_ragged_file(ragged, local_ray, home, tmp_path):
    path = tmp_path / "pypfopt.csv"
    ragged.to_csv(path, index_label="date")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, [
        "walk-forward", "--strategy", "mpt", "--prices", str(path), "--groups", "3",
        "--test-groups", "1", "--purge", "5", "--embargo", "5", "--num-cpus", "2",
        "--no-track", "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert len(payload["folds"]) == 3  # C(3, 1)
    for fold in payload["folds"]:
        assert np.isfinite(fold["mpt_sharpe"]) and np.isfinite(fold["1/N_sharpe"])
    assert (out / "folds.csv").exists()


@pytest.mark.parametrize("fold_index", [0, 1])
def test_fold_blocks_hold_only_listed_assets(ragged, fold_index):
    """Fold 0 tests 2013-2014 (BABA not yet listed: no price in the block's panel at all);
    fold 1's test block contains BABA's listing."""
    cfg = BacktestConfig(strategy="mpt")
    mpt = make_strategy("mpt")
    layout = plan(len(ragged), WalkForwardSettings(**LAYOUT), mpt.min_history)
    fold = layout.folds[fold_index]
    (block,) = fold.blocks()
    listed = ragged.apply(pd.Series.first_valid_index)
    for name in ("equal_weight", "mpt"):
        strategy = make_strategy(name)
        run = run_block(strategy, ragged, fold, block, layout.warmup, 5, cfg)
        assert run.returns.notna().all() and len(run.returns) == len(block) - 1
        for day, w in run.weights.fillna(0.0).iterrows():
            # a hand rule: priced on each of the strategy's last min_history sessions
            # (1/N: min_history 1, the assets priced on the day)
            rows = ragged.loc[:day].iloc[-strategy.min_history:]
            allowed = set(rows.columns[rows.notna().all().to_numpy()])
            held = set(w.index[w.abs() > 1e-12])
            assert held <= allowed, (name, day, held - allowed)
            if name == "equal_weight":
                assert held == allowed
                assert np.allclose(w[list(held)], 1.0 / len(held))
            if day < listed["BABA"]:
                assert w.get("BABA", 0.0) == 0.0
        if fold_index == 1 and name == "equal_weight":
            # the block contains BABA's listing: 1/N holds it from its first decision after
            assert run.weights.loc[run.weights.index > listed["BABA"], "BABA"].gt(0).any()
