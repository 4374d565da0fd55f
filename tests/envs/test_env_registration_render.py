"""Gymnasium conventions (issue 17.15): ``import autoport`` registers ``autoport/Portfolio-v0``
by an entry-point string, in either import order, without loading Gymnasium or numpy itself;
the env takes ``render_mode`` None or "ansi" (the book as text)."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env

from autoport.envs import EnvConfig
from autoport.errors import ConfigError
from autoport.synthetic import regime_switching_prices

SMALL = EnvConfig(estimation_window=60, momentum_window=40, lookback=10, vol_window=10,
                  rebalance_every=5, episode_length=30, schedule="every_k", reward="log_return")


def _fresh(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code + "\nimport json, sys\nprint(json.dumps("
                           "{'registered': 'autoport/Portfolio-v0' in sys.modules['gymnasium']"
                           ".registry if 'gymnasium' in sys.modules else None, "
                           "'envs': 'autoport.envs' in sys.modules, "
                           "'numpy': 'numpy' in sys.modules}))"],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("code", ["import autoport\nimport gymnasium",
                                  "import gymnasium\nimport autoport"])
def test_import_autoport_registers_the_env_in_either_order(code):
    seen = _fresh(code)
    assert seen["registered"] is True
    assert seen["envs"] is False  # an entry-point string: the env module loads at make()


def test_import_autoport_alone_loads_neither_gymnasium_nor_numpy():
    assert _fresh("import autoport") == {"registered": None, "envs": False, "numpy": False}


def test_without_import_autoport_nothing_is_registered():
    """The probe: Gymnasium alone does not know the id, so the checks above can fail."""
    assert _fresh("import gymnasium")["registered"] is False


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    panel, _ = regime_switching_prices(400, seed=3)
    return panel


def test_ansi_render_prints_the_book(prices):
    env = gym.make("autoport/Portfolio-v0", prices=prices, config=SMALL, render_mode="ansi")
    _, info = env.reset(seed=0)
    text = env.render()
    assert text.startswith(str(info["date"].date())) and "cash 100.00%" in text
    _, _, _, _, info = env.step(0)  # equal weight
    text = env.render()
    book = env.unwrapped.book()
    assert text.startswith(str(info["date"].date()))
    rows = {line.split()[0]: float(line.split()[1].rstrip("%")) / 100
            for line in text.splitlines()[1:]}
    assert set(rows) == set(prices.columns)
    np.testing.assert_allclose([rows[t] for t in prices.columns],
                               book.weights[list(prices.columns)], atol=5e-5)
    assert f"value {env.unwrapped._value:.4f}" in text


def test_no_render_mode_renders_nothing_and_a_bad_one_is_refused(prices):
    env = gym.make("autoport/Portfolio-v0", prices=prices, config=SMALL)
    env.reset(seed=0)
    assert env.unwrapped.render_mode is None and env.render() is None
    with pytest.raises(ConfigError, match="render_mode 'human' is not supported"):
        gym.make("autoport/Portfolio-v0", prices=prices, config=SMALL, render_mode="human")


def test_gymnasiums_checker_passes_with_the_render_check(prices):
    env = gym.make("autoport/Portfolio-v0", prices=prices, config=SMALL, render_mode="ansi")
    check_env(env.unwrapped)  # made through the registry: the render modes are checked too
