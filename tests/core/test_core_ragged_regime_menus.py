"""Issue 17 item 6, the regime detector and the DQN env on ragged panels (late listings).

The detector's market index on a ragged panel averages the assets priced on each session and
the one before (checked against a loop written here); the env's menu at each session is the
complete-panel menu of the assets with the menu's history, zero elsewhere (the complete-panel
build on that sub-panel is the reference), and the env's 1/N book holds those assets only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autoport import data
from autoport.benchmarks import equal_weight_index
from autoport.envs import menus
from autoport.envs.config import EnvConfig
from autoport.envs.portfolio_env import PortfolioEnv
from autoport.regime.features import build_features, market_returns

PYPFOPT = Path(__file__).resolve().parents[1] / "data" / "pypfopt_stock_prices.csv"


@pytest.fixture(scope="module")
def panel():
    """2014-2015 of PyPortfolioOpt's file: BABA lists on 2014-09-19, inside the period."""
    raw = data.read_price_file(PYPFOPT).loc["2014-01-01":"2015-12-31"]
    return data.validate_prices(raw, ragged=True)


def test_the_market_index_averages_the_assets_priced_on_both_days(panel):
    assert panel["BABA"].isna().any() and panel["BABA"].notna().any()
    values = panel.to_numpy()
    by_hand = []
    for t in range(1, len(values)):
        both = ~np.isnan(values[t]) & ~np.isnan(values[t - 1])
        by_hand.append(np.log(np.mean(values[t, both] / values[t - 1, both])))
    np.testing.assert_allclose(market_returns(panel).to_numpy(), by_hand, rtol=0, atol=1e-15)
    # the features and the bull/bear reference read the same index: finite on every session
    feats = build_features(panel, returns="features", horizons=(5, 21))
    assert np.isfinite(feats.to_numpy()).all() and len(feats) == len(panel) - 1 - 21
    np.testing.assert_allclose(np.log(equal_weight_index(panel)).diff().iloc[1:].to_numpy(),
                               by_hand, atol=1e-14)
    # per-asset returns keep the assets listed all along (BABA is not)
    cols = build_features(panel, returns="assets").columns
    assert "ret:BABA" not in cols and len(cols) == panel.shape[1] - 1


def test_each_menu_is_the_complete_menu_of_the_listed_assets(panel, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path))
    cfg = EnvConfig(estimation_window=60, momentum_window=60, vol_window=20, lookback=20,
                    actions=("equal_weight", "min_variance", "max_sharpe", "inverse_vol"))
    need = cfg.history_needed
    table = menus.table(panel, cfg, use_disk=False)
    baba = panel.columns.get_loc("BABA")
    listing = panel.index.get_loc(panel["BABA"].first_valid_index())
    for row in (need - 1, listing + need - 2, listing + need - 1, len(panel) - 1):
        cols = [c for c in panel.columns if panel[c].iloc[row + 1 - need: row + 1].notna().all()]
        assert ("BABA" in cols) == (row >= listing + need - 1)
        reference = menus.menu_weights(panel[cols].iloc[row + 1 - need: row + 1], cfg)
        idx = [panel.columns.get_loc(c) for c in cols]
        np.testing.assert_allclose(table.at(row)[:, idx], reference, atol=1e-12)
        others = [i for i in range(panel.shape[1]) if i not in idx]
        assert not table.at(row)[:, others].any()
        # one session's build (what the DQN strategy computes in a backtest) agrees
        np.testing.assert_allclose(menus.menu_weights(panel.iloc[: row + 1], cfg), table.at(row),
                                   atol=1e-12)
    assert not table.at(listing + need - 2)[:, baba].any()


def test_the_env_steps_over_a_ragged_panel_with_1_over_n_of_the_listed(panel, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path))
    cfg = EnvConfig(estimation_window=60, momentum_window=60, episode_length=120,
                    actions=("equal_weight", "inverse_vol"), reward="log_return",
                    costs={"commission_bps": 0.0, "slippage_bps": 0.0})
    start = panel.index[cfg.history_needed]  # BABA is not listed yet
    env = PortfolioEnv(panel, cfg, episode_starts=[start], episode_length=120)
    obs, _ = env.reset()
    total = 0.0
    done = False
    while not done:
        obs, reward, _, done, info = env.step(0)  # the agent holds 1/N too
        assert np.isfinite(obs).all()
        listed = [c for c, w in info["weights"].items() if c != "CASH" and w > 0]
        assert "BABA" not in listed and len(listed) == panel.shape[1] - 1
        total += reward
    # excess over the env's 1/N book: zero when the agent holds that same 1/N
    assert abs(total) < 1e-9
