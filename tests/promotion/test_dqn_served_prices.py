"""The logged DQN model takes a price panel (building the observation itself) or the env's
observations, in Python and behind a real ``mlflow models serve`` on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from datetime import date

import numpy as np
import pandas as pd
import pytest

from autoport.envs.config import EnvConfig
from autoport.synthetic import regime_switching_prices
from autoport.testing import wait_for_http

ENV = {"estimation_window": 40, "momentum_window": 30, "lookback": 5, "vol_window": 5,
       "rebalance_every": 5, "episode_length": 30, "schedule": "every_k"}


@pytest.fixture
def logged(home, tmp_path):
    """A small (untrained, seeded) DQN policy logged as `autoport train-agent` logs it."""
    from stable_baselines3 import DQN

    from autoport import tracking
    from autoport.envs.portfolio_env import PortfolioEnv
    from autoport.strategies.dqn.policy import PolicyMapper
    from autoport.strategies.dqn.pyfunc import MODEL_CODE

    panel, _ = regime_switching_prices(160, seed=8, start="2001-01-01")
    prices = panel.iloc[:, :4]
    config = EnvConfig.model_validate(ENV)
    model = DQN("MlpPolicy", PortfolioEnv(prices, config), policy_kwargs={"net_arch": [16]},
                seed=0, device="cpu")
    mapper = PolicyMapper(model, config, list(prices.columns), seen_until=date(2001, 3, 1))
    _, uri = tracking.log_model_run(
        "agents", run_name="served", params={}, metrics={}, python_model=str(MODEL_CODE),
        model_artifacts=mapper.save(tmp_path / "model"))
    return prices, mapper, uri


def _expected(prices, mapper):
    """The dqn strategy's own decision on the panel, outside an engine (all-cash book)."""
    from autoport.strategies.dqn.strategy import DQNPolicy

    strategy = DQNPolicy(mapper=mapper)
    decision = strategy.decide(prices)
    return decision, strategy.observe(prices)[0]


def test_the_logged_model_takes_prices_or_observations(logged):
    from autoport import tracking
    from autoport.errors import DataError

    prices, mapper, uri = logged
    model = tracking.load_pyfunc(uri)
    decision, obs = _expected(prices, mapper)
    out = model.predict(prices[prices.columns[::-1]])  # column order does not matter
    assert list(out.index) == [prices.index[-1]]
    assert out["action_name"].iloc[0] == decision.details["action"]
    np.testing.assert_array_equal(out[list(prices.columns)].iloc[0].to_numpy(),
                                  decision.weights.to_numpy())
    assert out.drop(columns=["action", "action_name"]).sum(axis=1).iloc[0] == pytest.approx(1.0)
    by_obs = model.predict([obs.tolist(), obs.tolist()])  # the env's form stays available
    assert len(by_obs) == 2
    assert by_obs["action_name"].tolist() == [out["action_name"].iloc[0]] * 2
    # the observation carries the menu as float32; the panel path answers the float64 menu
    pd.testing.assert_frame_equal(by_obs.iloc[[0]].reset_index(drop=True),
                                  out.reset_index(drop=True), check_exact=False, atol=1e-7)
    with pytest.raises(DataError, match="41 are needed"):
        model.predict(prices.iloc[-10:])  # too short a history for the menu


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        return json.loads(resp.read())


@pytest.mark.slow
def test_mlflow_models_serve_answers_a_price_panel(logged, tmp_path):
    from autoport import tracking

    prices, mapper, uri = logged
    decision, obs = _expected(prices, mapper)
    port = _free_port()
    # the scoring server runs `uvicorn` from PATH: make it this interpreter's (the test venv's
    # console scripts may belong to a base interpreter without autoport)
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "uvicorn").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m uvicorn "$@"\n')
    (shim / "uvicorn").chmod(0o755)
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking.tracking_uri(),
           "PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", uri,
         "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env,
        cwd=tmp_path)  # not the checkout: uvicorn puts the working folder first on sys.path
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(proc, f"{url}/ping", tmp_path / "serve.log", timeout=240,
                      what="mlflow models serve")
        split = json.loads(prices.to_json(orient="split", date_format="iso"))
        answer = _post(f"{url}/invocations", {"dataframe_split": split})["predictions"]
        assert len(answer) == 1
        row = answer[0]
        assert row["action_name"] == decision.details["action"]
        for ticker in prices.columns:
            assert row[ticker] == pytest.approx(decision.weights[ticker], abs=1e-12)
        assert sum(row[t] for t in prices.columns) + row["CASH"] == pytest.approx(1.0)
        by_obs = _post(f"{url}/invocations", {"inputs": [obs.tolist()]})["predictions"]
        assert by_obs[0]["action"] == row["action"]
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):  # the server and its workers
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=10)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()
