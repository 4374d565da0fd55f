"""A fold's decisions see only the past: the future, the purged and embargoed sessions, other
test blocks and training sessions after the block can change without moving them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport import data
from autoport.backtest import BacktestConfig
from autoport.strategies import make_strategy
from autoport.walkforward import estimation_rows, plan, WalkForwardSettings
from autoport.walkforward.run import run_block, run_fold

CONFIG = BacktestConfig(strategy="mpt", window=63, rebalance="month_start")
SETTINGS = WalkForwardSettings(groups=4, test_groups=2, purge=5, embargo=5)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return data.bundled_prices().loc["2011-01-01":"2013-06-30"].iloc[:, :6]


@pytest.fixture(scope="module")
def layout(prices):
    return plan(len(prices), SETTINGS, make_strategy("mpt", window=63).min_history)


def _scrambled(prices: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The same panel with other closes on ``rows`` (a seeded random factor per cell)."""
    out = prices.copy()
    rng = np.random.default_rng(3)
    out.iloc[rows] = prices.iloc[rows].to_numpy() * rng.uniform(0.7, 1.4, (len(rows), 6))
    return out


def _decisions(prices, fold, block, warmup):
    strategy = make_strategy("mpt", **CONFIG.strategy_arguments())
    return run_block(strategy, prices, fold, block, warmup, SETTINGS.purge, CONFIG).weights


def test_a_later_block_sees_neither_purged_embargoed_nor_test_nor_later_rows(prices, layout):
    fold = next(f for f in layout.folds if f.groups == (1, 3))
    first, second = fold.blocks()
    w = layout.warmup
    seen = set(estimation_rows(fold, second, w, SETTINGS.purge)) | set(second + w)
    unseen = np.array(sorted(set(range(len(prices))) - seen))
    # what it must not see: the first test block, the rows purged and embargoed around it,
    # and the rows purged before the second block
    assert set(first + w) <= set(unseen)
    assert {first[-1] + w + k for k in range(1, 11)} <= set(unseen)
    assert {second[0] + w - k for k in range(1, 6)} <= set(unseen)
    before = _decisions(prices, fold, second, w)
    after = _decisions(_scrambled(prices, unseen), fold, second, w)
    pd.testing.assert_frame_equal(before, after)
    # the check can fail: scrambling a row it does see moves its first decision
    seen_row = np.array([estimation_rows(fold, second, w, SETTINGS.purge)[-3]])
    moved = _decisions(_scrambled(prices, seen_row), fold, second, w)
    assert not np.allclose(moved.iloc[0], before.iloc[0])


def test_perturbing_a_folds_future_leaves_its_earlier_decisions(prices, layout):
    fold = next(f for f in layout.folds if f.groups == (0, 2))
    block = fold.blocks()[1]
    before = _decisions(prices, fold, block, layout.warmup)
    cut = before.index[len(before) // 2]
    later = np.flatnonzero(prices.index > cut)
    after = _decisions(_scrambled(prices, later), fold, block, layout.warmup)
    kept = before.index <= cut
    assert kept.sum() >= 3
    pd.testing.assert_frame_equal(before.loc[kept], after.loc[after.index <= cut])
    assert not np.allclose(before.loc[~kept].to_numpy(), after.loc[~kept].to_numpy())


def test_a_fold_runs_the_strategy_and_one_over_n_on_the_same_sessions(prices, layout):
    fold = layout.folds[1]
    result = run_fold(prices, fold, layout.warmup, SETTINGS.purge, CONFIG, make_strategy)
    assert result.returns.index.equals(result.baseline_returns.index)
    # every test session but the first of each block (it only decides) is traded
    assert len(result.returns) == sum(len(b) - 1 for b in fold.blocks())
    expected = np.concatenate([prices.index[b[1:] + layout.warmup] for b in fold.blocks()])
    assert (result.returns.index == expected).all()
    assert np.isfinite(result.strategy["sharpe"]) and np.isfinite(result.baseline["sharpe"])


def test_a_rolling_fold_estimates_on_its_window_only(prices):
    settings = WalkForwardSettings(scheme="rolling", train=100, test=60, purge=5)
    layout = plan(len(prices), settings, make_strategy("mpt", window=63).min_history)
    fold = layout.folds[2]
    assert layout.warmup == 0 and fold.train.tolist() == list(range(120, 220))
    result = run_fold(prices, fold, 0, 5, CONFIG, make_strategy)
    assert (result.returns.index == prices.index[226:285]).all()
    # rows before the window and the purge gap are not seen: scrambling them changes nothing
    hidden = np.r_[0:120, 220:225, 285:len(prices)]
    again = run_fold(_scrambled(prices, hidden), fold, 0, 5, CONFIG, make_strategy)
    pd.testing.assert_series_equal(result.returns, again.returns)
