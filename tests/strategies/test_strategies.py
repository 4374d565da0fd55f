"""Strategies see only the past: perturbing prices after T leaves every decision at or before T."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoport import data
from autoport.strategies import decide_schedule, make_strategy
from autoport.errors import ConfigError

PRICES = data.bundled_prices().loc["2006-01-01":"2009-12-31"]
DATES = PRICES.index[260::21]


def _shock_future(prices: pd.DataFrame, after: pd.Timestamp, seed: int) -> pd.DataFrame:
    """Multiply every price after ``after`` by a random walk: a different future, same past."""
    rng = np.random.default_rng(seed)
    future = prices.index > after
    factors = np.exp(np.cumsum(rng.normal(0, 0.03, (future.sum(), prices.shape[1])), axis=0))
    shocked = prices.copy()
    shocked.loc[future] = prices.loc[future].to_numpy() * factors
    return shocked


@pytest.mark.parametrize("name", ["mpt", "equal_weight"])
def test_no_look_ahead_past_decisions_survive_a_new_future(name):
    strategy = make_strategy(name)
    cut = DATES[len(DATES) // 2]
    original = decide_schedule(strategy, PRICES, DATES)
    shocked = decide_schedule(strategy, _shock_future(PRICES, cut, seed=1), DATES)
    past = original.index <= cut
    pd.testing.assert_frame_equal(original[past], shocked[past], check_exact=True)
    if name == "mpt":
        # The test can fail: the shocked future does change the later MPT decisions.
        assert not np.allclose(original[~past].to_numpy(), shocked[~past].to_numpy(), atol=1e-4)


def test_mpt_weights_are_a_capped_long_only_budget():
    weights = decide_schedule(make_strategy("mpt", max_weight=0.25), PRICES, DATES)
    assert len(weights) == len(DATES)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-9)
    assert (weights.to_numpy() >= 0).all()
    assert (weights.to_numpy() <= 0.25 + 1e-6).all()


def test_mpt_says_so_when_nothing_beats_the_risk_free_rate():
    # In the 2008 crash every trailing-year CAGR was far below 50%.
    history = data.bundled_prices().loc["2007-10-01":"2008-12-31"]
    decision = make_strategy("mpt", risk_free_rate=0.5).decide(history)
    assert "max Sharpe is undefined, held min variance" in decision.reason
    assert decision.weights.sum() == pytest.approx(1.0)


@settings(max_examples=15, deadline=None)
@given(cap=st.floats(0.06, 1.0), start=st.integers(0, 600))
def test_property_mpt_weights_respect_any_feasible_cap(cap, start):
    window = data.bundled_prices().iloc[start : start + 253]
    weights = make_strategy("mpt", max_weight=cap).decide(window).weights
    assert weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert weights.min() >= 0.0
    assert weights.max() <= cap + 1e-6


def test_unknown_strategy_is_named():
    with pytest.raises(ConfigError, match="unknown strategy 'momentum'"):
        make_strategy("momentum")


def test_mpt_takes_sector_constraints_and_other_objectives_from_config():
    from autoport.data import sector_map

    sectors = sector_map()
    strategy = make_strategy(
        "mpt", objective="min_volatility",
        constraints={"sectors": "bundled", "sector_max": {"Consumer Staples": 0.2},
                     "exclude": ["KO"]},
    )
    weights = strategy.decide(PRICES.loc[:"2008-06-30"]).weights
    staples = sum(w for t, w in weights.items() if sectors[t] == "Consumer Staples")
    assert staples <= 0.2 + 1e-7
    assert weights["KO"] == 0.0
    assert weights.max() <= 0.25 + 1e-7  # max_weight still caps each asset
    unconstrained = make_strategy("mpt", objective="min_volatility").decide(
        PRICES.loc[:"2008-06-30"]).weights
    # Min variance on these windows loves staples: the limit binds, so the test can fail.
    assert sum(w for t, w in unconstrained.items() if sectors[t] == "Consumer Staples") > 0.2


def test_bad_constraints_block_is_refused_before_any_work():
    with pytest.raises(ConfigError, match="sector_maxx"):
        make_strategy("mpt", constraints={"sector_maxx": {"Energy": 0.1}})
