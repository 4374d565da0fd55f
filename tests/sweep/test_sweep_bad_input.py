"""Bad sweep specs for every target: one message, exit 1, nothing written, before Ray starts."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from autoport_cli.main import app

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("spec, message", [
    ({"target": "backtest", "strategy": "regime", "metric": "sharpe",
      "space": {"strategy_params.config.strategy.treshold": {"uniform": [0.6, 0.9]}}},
     "strategy.treshold: Extra inputs are not permitted"),
    ({"target": "backtest", "strategy": "autopilot", "metric": "sharpe",
      "base_config": str(ROOT / "configs" / "autopilot_backtest.yaml"),
      "space": {"strategy_params.risk_tolerence": {"uniform": [0.2, 0.9]}}},
     "risk_tolerence: Extra inputs are not permitted"),
    ({"target": "backtest", "strategy": "autopilot", "metric": "sharpe",
      "space": {"strategy_params.risk_tolerance": {"uniform": [0.2, 1.9]}}},
     "space key 'strategy_params.risk_tolerance'"),
    ({"target": "train-agent", "metric": "success_rate", "scheduler": "asha",
      "base_config": str(ROOT / "configs" / "dqn.yaml"),
      "space": {"dqn.gama": {"choice": [0.5, 0.9]}}},
     "space key 'dqn.gama'"),
    ({"target": "train-agent", "metric": "sharpe", "space": {"dqn.gamma": {"choice": [0.5]}}},
     "not reported by train-agent"),
])
def test_a_bad_spec_is_one_message_and_exit_1(tmp_path, spec, message):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(spec_file), "--out", str(out), "--no-track"])
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not out.exists()
