"""`autoport train-agent --seeds N`: the test success rate's spread over seeds, computed from the
N runs themselves, in clean JSON (no progress on stdout, none at all off a terminal)."""

from __future__ import annotations

import json
import statistics

import pytest
import yaml
from typer.testing import CliRunner

from autoport_cli.main import app


@pytest.mark.slow  # four tiny trainings: 45 s on the loaded 2-core box
def test_seeds_report_mean_and_sd_of_their_own_runs(tiny_agent_prices, tiny_agent_config,
                                                    home, tmp_path):
    from autoport.strategies.dqn.config import AgentConfig
    from autoport.strategies.dqn.train import train

    prices_file = tmp_path / "prices.csv"
    tiny_agent_prices.to_csv(prices_file, index_label="date")
    config_file = tmp_path / "dqn.yaml"
    config_file.write_text(yaml.safe_dump(tiny_agent_config))
    res = CliRunner().invoke(app, ["train-agent", "--config", str(config_file), "--prices",
                                   str(prices_file), "--seeds", "3", "--no-track", "--json",
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)  # nothing but the JSON object on stdout
    spread = payload["seeds"]
    assert [r["seed"] for r in spread["runs"]] == [5, 6, 7]
    rates = [r["success_rate"] for r in spread["runs"]]
    assert rates[0] == payload["success_rate"]  # the reported (and logged) model is seed 5's
    assert spread["success_rate_mean"] == statistics.mean(rates)
    assert abs(spread["success_rate_sd"] - statistics.stdev(rates)) < 1e-15
    # each seed's figure is that seed's own training run
    seven = train(tiny_agent_prices, AgentConfig.model_validate({**tiny_agent_config,
                                                                 "seed": 7}))
    assert rates[2] == seven.test["success_rate"]
    assert (tmp_path / "out" / "seeds.csv").read_text().count("\n") == 4
    assert "refits" not in res.stderr and "menus" not in res.stderr  # not a terminal
