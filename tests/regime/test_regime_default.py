"""The bundled default follows the comparison, every candidate is selectable, and the default's
online accuracy on the seeded three-regime generator (the issue asks for >= 90%; it falls short)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoport.errors import ConfigError
from autoport.regime import evaluation as ev
from autoport.regime.config import load_config, parse_config
from autoport.regime.detector import detect
from autoport.synthetic import regime_switching_prices

COMPARISON = Path(__file__).resolve().parents[2] / "experiments" / "regime" / "comparison.csv"


def test_the_default_is_the_detector_the_comparison_chose_on_1990_2006():
    table = pd.read_csv(COMPARISON)
    cfg = load_config()
    chosen = table.loc[table["default"], "candidate"].item()
    assert cfg.detector.use == chosen
    # the choice is the best 1990-2006 score, never a held-out one
    assert chosen == table.loc[table["tune_balanced"].idxmax(), "candidate"]
    assert set(cfg.candidates) == set(table["candidate"])
    for row in table.itertuples():
        key, value = row.setting.split("=")
        det = cfg.candidate(row.candidate)
        assert float(getattr(det, key)) == float(value), row.candidate
        assert det.min_train == cfg.detector.min_train  # the shared refit grid


def test_use_picks_a_candidate_and_explicit_keys_override_it():
    text = resources.files("autoport.configs").joinpath("regime.yaml").read_text()
    cfg = parse_config(text.replace("use: jump_features_2", "use: hmm_assets_3"))
    assert (cfg.detector.model, cfg.detector.returns, cfg.detector.n_states) == ("hmm", "assets", 3)
    cfg = parse_config(text.replace("use: jump_features_2",
                                    "use: jump_features_2\n  jump_penalty: 7.0"))
    assert cfg.detector.model == "jump" and cfg.detector.jump_penalty == 7.0
    with pytest.raises(ConfigError, match="not in candidates"):
        parse_config(text.replace("use: jump_features_2", "use: nope"))


def test_the_strategy_the_autopilot_and_the_env_run_on_the_default_detector():
    from autoport.autopilot.regimes import AutopilotRegimes
    from autoport.autopilot.settings import RegimeSettings
    from autoport.envs.features import RegimeObservations
    from autoport.strategies.regime_switching import RegimeSwitching

    prices = regime_switching_prices(700, seed=2)[0]
    cfg = load_config()
    strat = RegimeSwitching(config=cfg, min_train=300)
    assert strat.config.detector.model == cfg.detector.model == "jump"
    decision = strat.decide(prices)
    assert decision.details["regime"] in ("bull", "bear") and decision.weights.sum() > 0.5
    pilot = AutopilotRegimes(RegimeSettings.model_validate({"detector": {"min_train": 300}}))
    view = pilot.view(prices)
    env = RegimeObservations(strat.config.detector).at(prices)
    # one filter: the three consumers see the same probabilities on the last day
    np.testing.assert_array_equal(env, view.path.iloc[-1].to_numpy())
    assert view.raw == decision.details["filtered_regime"]


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "measured: the default 2-state jump model on market features scores 26-83% bear-vs-rest "
    "online accuracy on seeds 0-7 (1,600-day panels): its slow features miss the generator's "
    "short volatile bear spells; see README 'What the regime detector is, and is not'"))
def test_the_default_is_right_on_90_percent_of_days_on_eight_synthetic_panels():
    det = load_config().detector
    scores = []
    for seed in range(8):
        prices, truth = regime_switching_prices(1600, seed=seed)
        labels = detect(prices, det).labels
        t = truth.reindex(labels.index)
        if det.n_states == 2:  # a 2-state detector names bear vs the rest
            labels, t = labels.map(ev.BEAR_VS_REST), t.map(ev.BEAR_VS_REST)
        scores.append(float((labels == t).mean()))
    assert np.min(scores) >= 0.90, scores
