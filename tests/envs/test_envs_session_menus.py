"""A strategy's menus warm-started from its previous decision (issue 13 item 3): the same
numbers as each session's cold build, whatever came before."""

from __future__ import annotations

import numpy as np

from autoport import data
from autoport.envs import EnvConfig, menus


def test_warm_started_menus_equal_cold_ones_and_reuse_one_builder():
    prices = data.bundled_prices().iloc[-1100:]
    cfg = EnvConfig()
    session = menus.SessionMenus(cfg)
    ends = range(cfg.history_needed, len(prices) + 1, 21)
    builders = set()
    for end in ends:
        warm = session(prices.iloc[:end])
        builders.add(id(session._builder))
        cold = menus.menu_weights(prices.iloc[:end], cfg)
        np.testing.assert_allclose(warm, cold, rtol=0, atol=1e-12)
    assert len(builders) == 1 and len(ends) > 15
    # another history (a perturbed past) after those: still its own cold menu
    bumped = prices.iloc[:cfg.history_needed + 40].copy()
    bumped.iloc[-10:, 2] *= 1.3
    np.testing.assert_allclose(session(bumped), menus.menu_weights(bumped, cfg),
                               rtol=0, atol=1e-12)
    # other tickers: a new builder
    sub = prices.iloc[:cfg.history_needed + 40, :12]
    np.testing.assert_allclose(session(sub), menus.menu_weights(sub, cfg), rtol=0, atol=1e-12)
    assert list(session._builder.tickers) == list(sub.columns)
