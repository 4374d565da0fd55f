"""Issue 17 item 6: ragged panels (late listings, delistings).

An asset enters the investable universe once it has the estimation window of prices and leaves
at its last price, in the optimizer, the risk engine, both engines (the zipline bundle carries
per-asset start and end dates) and the strategies (they see only investable columns). End to
end on PyPortfolioOpt's own test file, where ten of twenty tickers list after its first date.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from autoport import data
from autoport.decision import Decision, decide_investable
from autoport.engines import simulator
from autoport.errors import DataError
from autoport_cli.main import app

PYPFOPT = Path(__file__).resolve().parents[1] / "data" / "pypfopt_stock_prices.csv"


def _ragged(n=300, seed=0):
    """A listed from the start, B delisted after row 200, C listed at row 100."""
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2020-01-01", periods=n)
    px = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, 3)), axis=0)),
                      index=idx, columns=list("ABC"))
    px.iloc[201:, 1] = np.nan
    px.iloc[:100, 2] = np.nan
    return px


class Recorder:
    """1/N over what it is handed, remembering the columns of each call."""

    name = "recorder"

    def __init__(self, min_history):
        self.min_history = min_history
        self.seen = []

    def decide(self, history, book=None):
        assert not history.isna().to_numpy().any()
        self.seen.append((history.index[-1], list(history.columns)))
        w = pd.Series(1.0 / history.shape[1], index=history.columns)
        return Decision(history.index[-1], w, "1/N")


def test_validation_accepts_listings_and_delistings_only_when_ragged():
    px = _ragged()
    with pytest.raises(DataError, match="pass --start"):
        data.validate_prices(px)
    assert data.validate_prices(px, ragged=True).isna().sum().to_dict() == {"A": 0, "B": 99,
                                                                             "C": 100}
    gap = px.copy()
    gap.iloc[150, 0] = np.nan  # a hole inside A's life is still a gap
    with pytest.raises(DataError, match="--ffill"):
        data.validate_prices(gap, ragged=True)
    filled = data.validate_prices(gap, ragged=True, ffill=True)
    assert filled.iloc[150, 0] == filled.iloc[149, 0] and filled["B"].iloc[201:].isna().all()
    real = data.validate_prices(data.read_price_file(PYPFOPT), ragged=True)
    assert real.shape == (7126, 20)


def test_investable_needs_the_whole_window_and_a_last_price():
    px = _ragged()
    assert data.investable(px.iloc[:120], 50) == ["A", "B"]  # C has 20 rows
    assert data.investable(px.iloc[:150], 50) == ["A", "B", "C"]  # C has exactly 50
    assert data.investable(px.iloc[:149], 50) == ["A", "B"]
    assert data.investable(px.iloc[:250], 50) == ["A", "C"]  # B delisted
    panel, note = data.complete_universe(px.iloc[:120], 50)
    assert list(panel.columns) == ["A", "B"] and len(panel) == 120
    assert f"C (prices {px.index[100].date()} to" in note


def test_strategies_see_investable_columns_only_and_others_get_zero():
    px = _ragged()
    strat = Recorder(min_history=50)
    d = decide_investable(strat, px.iloc[:120])
    assert strat.seen[-1][1] == ["A", "B"] and d.weights["C"] == 0.0
    d = decide_investable(strat, px.iloc[:250])
    assert strat.seen[-1][1] == ["A", "C"] and d.weights.to_dict() == {"A": .5, "B": 0, "C": .5}


def test_the_simulator_sells_a_delisted_asset_at_its_last_price():
    px = _ragged()
    strat = Recorder(min_history=50)
    run = simulator.run(strat, px, start=px.index[60], rebalance="every_day")
    assert np.isfinite(run.returns).all()
    # C enters on the first decision with 50 rows of its prices, B leaves after its last
    entered = [d for d, cols in strat.seen if "C" in cols][0]
    assert entered == px.index[149]
    assert all("B" not in cols for d, cols in strat.seen if d > px.index[200])
    # B's shares are sold on the session after its last price, at that price (no costs)
    b_sold = [f for f in run.fills if f.ticker == "B" and f.shares < 0 and f.date > px.index[200]]
    assert b_sold and b_sold[0].price == pytest.approx(px["B"].iloc[200])
    assert run.positions["B"].iloc[-1] == 0.0


def _invoke(args):
    return CliRunner().invoke(app, [*args, "--prices", str(PYPFOPT), "--json"])


def test_optimize_and_stress_on_the_pypfopt_file(home):
    opt = _invoke(["optimize", "--frontier-points", "0", "--no-track"])
    assert opt.exit_code == 0, opt.output
    weights = json.loads(opt.stdout)["weights"]
    assert len(weights) == 20  # every ticker has the 756-session window by 2018-04-11
    early = _invoke(["optimize", "--frontier-points", "0", "--no-track", "--as-of", "2013-12-31"])
    assert early.exit_code == 0, early.output
    assert "BABA" not in json.loads(early.stdout)["weights"]
    assert "BABA has no prices between" in " ".join(early.output.split())
    st = _invoke(["stress", "--method", "parametric", "--no-track"])
    assert st.exit_code == 0, st.output
    assert "left out: BABA (prices 2014-09-19 to 2018-04-11)" in " ".join(st.output.split())
    assert json.loads(st.stdout)["estimation"]["observations"] == 1000


def test_backtest_sim_on_the_pypfopt_file(home):
    res = _invoke(["backtest", "--strategy", "mpt", "--engine", "sim", "--start", "2014-06-01",
                   "--end", "2015-12-31", "--no-track"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    weights = pd.read_csv(Path(out["artifacts_dir"]) / "target_weights.csv", index_col=0,
                          parse_dates=True)
    # BABA lists 2014-09-19: no weight before it has the 252-session window (September 2015)
    assert (weights.loc[:"2015-09-18", "BABA"] == 0).all()
    assert set(weights.columns) == set(data.read_price_file(PYPFOPT).columns)


@pytest.mark.slow
def test_zipline_backtest_on_a_ragged_panel_matches_the_simulator(tmp_path, home):
    """Per-asset listing dates in the bundle: BABA trades on zipline only once listed."""
    px = data.read_price_file(PYPFOPT).loc["2014-03-01":"2015-03-31"]
    path = tmp_path / "short.csv"
    px.to_csv(path)
    runs = {}
    for engine in ("zipline", "sim"):
        res = CliRunner().invoke(app, ["backtest", "--strategy", "equal_weight", "--engine",
                                       engine, "--window", "60", "--prices", str(path),
                                       "--json", "--no-track"])
        assert res.exit_code == 0, res.output
        runs[engine] = pd.read_csv(Path(json.loads(res.stdout)["artifacts_dir"]) /
                                   "daily_returns.csv", index_col=0, parse_dates=True)
    z, s = runs["zipline"].iloc[:, 0], runs["sim"].iloc[:, 0]
    assert z.index.equals(s.index)
    assert np.corrcoef(z.iloc[1:], s.iloc[1:])[0, 1] > 0.99
