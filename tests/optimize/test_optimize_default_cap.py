"""Issue 17 item 11: one default position cap for `optimize` and the backtest's MPT step."""

from __future__ import annotations

import json

import numpy as np
from pypfopt import EfficientFrontier, expected_returns, risk_models
from typer.testing import CliRunner

from autoport import data
from autoport.backtest import BacktestConfig
from autoport.optimize.config import OptimizeConfig
from autoport.optimize.constraints import DEFAULT_MAX_WEIGHT
from autoport.regime.config import RegimePolicy
from autoport.strategies.mpt import MeanVariance
from autoport_cli import choices
from autoport_cli.main import app


def test_every_default_is_the_one_constant():
    assert DEFAULT_MAX_WEIGHT == 0.25
    assert choices.MAX_WEIGHT == DEFAULT_MAX_WEIGHT
    assert OptimizeConfig().max_weight == DEFAULT_MAX_WEIGHT
    assert BacktestConfig().max_weight == DEFAULT_MAX_WEIGHT
    assert MeanVariance().max_weight == DEFAULT_MAX_WEIGHT
    assert RegimePolicy(objective="max_sharpe").max_weight == DEFAULT_MAX_WEIGHT


def test_optimize_max_sharpe_is_capped_by_default_as_pypfopt_with_the_same_bound(home):
    res = CliRunner().invoke(app, ["optimize", "--objective", "max_sharpe", "--window", "756",
                                   "--frontier-points", "0", "--json", "--no-track"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    weights = payload["weights"]
    assert max(weights.values()) <= 0.25 + 1e-6
    assert any("capped at 25%" in n for n in payload["notes"])
    window = data.bundled_prices().iloc[-757:]
    ef = EfficientFrontier(expected_returns.mean_historical_return(window),
                           risk_models.CovarianceShrinkage(window).ledoit_wolf(),
                           weight_bounds=(0, 0.25), solver="CLARABEL")
    peer = ef.max_sharpe(risk_free_rate=0.0)
    np.testing.assert_allclose([weights[t] for t in window.columns],
                               [peer[t] for t in window.columns], atol=2e-4)
    helped = CliRunner().invoke(app, ["optimize", "--help"])
    assert "--max-weight" in helped.output and "0.25" in helped.output


def test_few_assets_raise_the_cap_to_one_over_n():
    cfg = OptimizeConfig(objective="max_sharpe")
    from autoport.optimize.config import capped

    cons, note = capped(cfg, 3)
    assert abs(cons.upper - 1 / 3) < 1e-12 and "1/3" in note
    assert capped(OptimizeConfig(objective="risk_parity"), 20) == (cfg.constraints, None)
    assert capped(OptimizeConfig(max_weight=1.0), 20)[1] is None
