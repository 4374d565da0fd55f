"""Decision menus: the batched exact build against the per-session reference, and the disk cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoport import estimators as E
from autoport.envs import EnvConfig, features, menus
from autoport.envs.portfolio_env import PortfolioEnv
from autoport.optimize import risk_budgeting
from autoport.synthetic import regime_switching_prices

SMALL = EnvConfig(estimation_window=60, momentum_window=40, lookback=10, vol_window=10,
                  rebalance_every=5, episode_length=30, schedule="every_k", reward="log_return")
ROWS = (60, 97, 150, 230, 311, 399)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    panel, _ = regime_switching_prices(400, seed=3)
    return panel


@pytest.fixture(autouse=True)
def _fresh_process_cache():
    menus.clear_process_cache()
    yield
    menus.clear_process_cache()


def test_estimates_are_the_estimators_numbers(prices):
    window = prices.iloc[100:161]
    mu, cov = menus.estimates(window.to_numpy())
    np.testing.assert_allclose(mu, E.mean_return(window).to_numpy(), rtol=1e-13, atol=0)
    np.testing.assert_allclose(cov, E.ledoit_wolf_cov(window).to_numpy(), rtol=1e-13, atol=0)


def test_equal_risk_contributions_match_the_optimizer(prices):
    _, cov = menus.estimates(prices.iloc[200:261].to_numpy())
    y = menus.equal_risk(cov)
    w = y / y.sum()
    contrib = w * (cov @ w) / (w @ cov @ w)
    np.testing.assert_allclose(contrib, 1 / len(w), atol=1e-12)  # the definition, exactly
    ref = risk_budgeting(pd.DataFrame(cov)).weights.to_numpy()
    np.testing.assert_allclose(w, ref, atol=1e-10)


def test_fast_menus_match_the_reference_and_are_at_least_as_good(prices):
    cfg = SMALL
    names = list(cfg.actions)
    for row in ROWS:
        history = prices.iloc[: row + 1]
        fast = features.menu_weights(history, cfg)
        ref = menus.reference_menu_weights(history, cfg)
        assert fast.shape == ref.shape == (len(names), prices.shape[1])
        # the conic minimum variance is flat near its optimum: weights agree to ~1e-5 only
        np.testing.assert_allclose(fast, ref, atol=1e-4)
        window = history.iloc[-(cfg.estimation_window + 1):]
        mu, cov = E.mean_return(window).to_numpy(), E.ledoit_wolf_cov(window).to_numpy()
        mv, ms = names.index("min_variance"), names.index("max_sharpe")
        # exact KKT points: never worse than the conic solver's answers
        assert fast[mv] @ cov @ fast[mv] <= ref[mv] @ cov @ ref[mv] * (1 + 1e-12)
        if mu.max() > 0:
            sharpe = [w @ mu / np.sqrt(w @ cov @ w) for w in (fast[ms], ref[ms])]
            # (the conic point may sit ~1e-9 above the cap, which buys it ~1e-9 of Sharpe)
            assert sharpe[0] >= sharpe[1] - 1e-8 * abs(sharpe[1])
        assert fast[[mv, ms]].max() <= max(cfg.max_weight, 1 / 5) + 1e-15  # exact: never


def test_batched_build_equals_one_session_builds(prices):
    """The warm-started batch and a cold one-session build (a strategy's) agree to rounding:
    both end on one dense KKT solve of the same active set."""
    cfg = SMALL
    first = cfg.history_needed - 1
    table = menus.build(prices, cfg, first)
    assert table.shape == (len(prices) - first, len(cfg.actions), prices.shape[1])
    for row in ROWS:
        np.testing.assert_allclose(table[row - first],
                                   features.menu_weights(prices.iloc[: row + 1], cfg),
                                   rtol=0, atol=1e-14)


def test_menus_are_cached_on_disk_and_reused(prices, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path))
    built = menus.table(prices, SMALL)
    assert built.source == "built"
    files = list(Path(tmp_path, "cache", "menus").iterdir())
    assert [f.suffix for f in files] == [".npz"]  # no temporary file left behind
    menus.clear_process_cache()
    loaded = menus.table(prices, SMALL)
    assert loaded.source == "disk"
    np.testing.assert_array_equal(loaded.menus, built.menus)
    np.testing.assert_allclose(loaded.menus, menus.build(prices, SMALL, loaded.first),
                               rtol=0, atol=1e-14)
    # the env reads the same table
    env = PortfolioEnv(prices, SMALL)
    np.testing.assert_array_equal(env.menu_at(200), built.at(200))


def test_a_changed_price_or_menu_setting_rebuilds(prices, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path))
    base = menus.table(prices, SMALL)
    menus.clear_process_cache()
    moved = prices.copy()
    moved.iloc[380, 2] *= 1.01  # one price, late in the panel
    other = menus.table(moved, SMALL)
    assert other.source == "built"
    first = base.first
    # the same numbers before the change (up to numpy's SIMD rounding, which may follow the
    # arrays' memory alignment), different ones from it on
    np.testing.assert_allclose(other.menus[: 380 - first], base.menus[: 380 - first],
                               rtol=0, atol=1e-14)
    assert not np.array_equal(other.menus[380 - first], base.menus[380 - first])
    for change in ({"max_weight": 0.3}, {"defensive_cash": 0.4}, {"momentum_window": 30},
                   {"actions": SMALL.actions[:-1]}):
        menus.clear_process_cache()
        cfg = SMALL.model_copy(update=change)
        assert menus.cache_key(prices, cfg) != menus.cache_key(prices, SMALL)
        assert menus.table(prices, cfg).source == "built", change
    menus.clear_process_cache()
    reward_only = SMALL.model_copy(update={"reward": "differential_sharpe"})
    assert menus.cache_key(prices, reward_only) == menus.cache_key(prices, SMALL)
    assert menus.table(prices, reward_only).source == "disk"
    assert len(list(Path(tmp_path, "cache", "menus").glob("*.npz"))) == 6


def test_an_unreadable_cache_file_is_rebuilt(prices, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path))
    built = menus.table(prices, SMALL)
    path = menus.cache_dir() / f"{menus.cache_key(prices, SMALL)}.npz"
    path.write_bytes(b"not a numpy file")
    menus.clear_process_cache()
    again = menus.table(prices, SMALL)
    assert again.source == "built"
    np.testing.assert_array_equal(again.menus, built.menus)


def test_a_smaller_menu_is_read_from_a_larger_table(prices, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path))
    full = menus.table(prices, SMALL)
    subset = ("max_sharpe", "equal_weight", "min_variance")
    cfg = SMALL.model_copy(update={"actions": subset})
    derived = menus.table(prices, cfg)
    assert derived.source == "derived"
    np.testing.assert_array_equal(derived.menus, full.menus[:, [2, 0, 1], :])
    np.testing.assert_allclose(derived.menus, menus.build(prices, cfg, full.first),
                               rtol=0, atol=1e-14)
    menus.clear_process_cache()
    assert menus.table(prices, cfg).source == "built"  # nothing larger in this process
    menus.clear_process_cache()
    other = SMALL.model_copy(update={"max_weight": 0.3, "actions": subset})
    menus.table(prices, SMALL)
    assert menus.table(prices, other).source == "built"  # another setting: no sharing
