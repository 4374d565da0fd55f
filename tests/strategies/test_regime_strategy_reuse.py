"""One regime strategy object handed histories that do not continue each other (issue 13
item 3): its feature stream, filter and hysteresis walk continue only a history whose seen rows
are unchanged, so a perturbed past or a new run never reuses what it computed before."""

from __future__ import annotations

import numpy as np
import pandas as pd

from autoport.regime.config import load_config
from autoport.strategies.regime_switching import RegimeSwitching
from autoport.synthetic import regime_switching_prices

# the market-feature jump model (any detector goes through the same streams); small for speed
FAST = dict(use="jump_features_2", min_train=300, n_restarts=2)


def _strategy():
    cfg = load_config()
    cfg = cfg.model_copy(update={"strategy": cfg.strategy.model_copy(update={
        "refit_every": 100, "threshold": 0.55, "hold_days": 2, "min_hold": 5})})
    return RegimeSwitching(config=cfg, **FAST)


def _same(a, b):
    pd.testing.assert_series_equal(a.weights, b.weights)
    assert a.details["probabilities"] == b.details["probabilities"]
    assert a.details["signal_regime"] == b.details["signal_regime"]


def test_a_reused_object_decides_each_history_as_a_fresh_one():
    prices = regime_switching_prices(900, seed=5)[0]
    bumped = prices.copy()
    rng = np.random.default_rng(2)
    bumped.iloc[420:520] *= np.exp(np.cumsum(rng.normal(0.0, 0.03, (100, prices.shape[1])),
                                             axis=0))
    reused = _strategy()
    signals = set()
    for end, panel in [(600, prices), (650, prices), (700, bumped), (720, prices),
                       (500, prices), (800, bumped), (880, bumped)]:
        history = panel.iloc[:end]
        got = reused.decide(history)
        _same(got, _strategy().decide(history))
        probs, active, _ = reused.regimes(history)
        signals.update(active.unique())
    # the perturbation changes the regimes, so reusing stale state would have shown
    a = _strategy().regimes(prices.iloc[:700])[0]
    b = _strategy().regimes(bumped.iloc[:700])[0]
    assert not np.allclose(a.to_numpy(), b.to_numpy())
    assert reused._features.rebuilds >= 4
