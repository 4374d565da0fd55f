"""The Ray sweep runner on a local 2-CPU Ray, with a synthetic trial whose answer is known.

The synthetic trial draws daily returns whose mean is ``edge - (x - 0.3)**2`` (noise fixed by
the seed), so the best setting is known by construction and a seeded sweep must find it, twice
with the same leaderboard. A setting of ``x`` above 0.85 raises, to show a failed trial is
recorded and the sweep goes on.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest

from autoport import configfile
from autoport.errors import ConfigError
from autoport.sweep.runner import TrialOutcome, _environ, ray_session, run_sweep
from autoport.sweep.spec import SweepSpec

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
from ray import cloudpickle  # noqa: E402

# the synthetic trial below reaches Ray's workers by value: they cannot import tests/
cloudpickle.register_pickle_by_value(sys.modules[__name__])

DATES = pd.bdate_range("2010-01-04", periods=400)


def synthetic_trial(config: dict, seed: int) -> TrialOutcome:
    x = float(config["x"])
    if x > 0.85:
        raise ValueError(f"x={x} is outside the model")
    noise = np.random.default_rng(seed).standard_normal(len(DATES)) * 0.01
    r = pd.Series(0.0005 - 0.01 * (x - 0.3) ** 2 + noise, index=DATES)
    return TrialOutcome({"sharpe": float(r.mean() / r.std() * np.sqrt(252)),
                         "annual_return": float(r.mean() * 252)}, r)


def spec(**changes) -> SweepSpec:
    raw = {"target": "backtest", "strategy": "mpt", "metric": "sharpe", "seeds": [0, 1],
           "space": {"x": {"choice": [0.0, 0.3, 0.6, 0.9]}}, "trials": 4, **changes}
    return configfile.validate(SweepSpec, raw, "spec")


def test_a_seeded_sweep_finds_the_known_best_and_repeats_its_leaderboard(local_ray, tmp_path):
    s = spec(space={"x": {"grid": [0.0, 0.3, 0.6, 0.9]}}, search="grid")
    first = run_sweep(s, {}, synthetic_trial, storage=tmp_path, name="a")
    second = run_sweep(s, {}, synthetic_trial, storage=tmp_path, name="b")
    assert first.winner.params == {"x": 0.3}
    board = first.leaderboard()
    assert list(board["status"]) == ["ok", "ok", "ok", "failed"]
    assert list(board["param.x"]) == [0.3, 0.0, 0.6, 0.9]  # (x - 0.3)^2 orders them
    # the score is the mean over the two seeds, each the trial's own Sharpe ratio
    for seed_col in ("seed_0", "seed_1"):
        assert seed_col in board
    expected = np.mean([synthetic_trial({"x": 0.3}, s_).metrics["sharpe"] for s_ in (0, 1)])
    assert first.winner.score == pytest.approx(expected, rel=1e-12)
    assert "outside the model" in board.loc[3, "error"]
    pd.testing.assert_frame_equal(
        board.drop(columns=["trial_id", "node"]), second.leaderboard().drop(
            columns=["trial_id", "node"]))


def test_random_search_is_seeded_and_selection_is_judged(local_ray, tmp_path):
    s = spec(space={"x": {"uniform": [0.0, 0.8]}}, trials=6)
    a = run_sweep(s, {}, synthetic_trial, storage=tmp_path, name="r1", seed=3)
    b = run_sweep(s, {}, synthetic_trial, storage=tmp_path, name="r2", seed=3)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert len({t.params["x"] for t in a.trials}) == 6
    dsr = a.deflated_sharpe()
    assert dsr.n_trials == 6 and dsr.n_observations == len(DATES)
    assert 0.0 <= dsr.dsr <= dsr.psr <= 1.0
    pbo = a.overfitting()
    assert pbo is not None and pbo.n_trials == 6 and 0.0 <= pbo.pbo <= 1.0


def settings_trial(config: dict, seed: int) -> TrialOutcome:
    """What a trial's process runs with: its niceness and its BLAS threads."""
    r = pd.Series(0.001 * np.arange(1, 41), index=DATES[:40])
    return TrialOutcome({"sharpe": 1.0, "nice": float(os.nice(0)),
                         "blas": float(os.environ.get("OPENBLAS_NUM_THREADS", "-1"))}, r)


def test_local_trials_run_at_the_drivers_priority_with_one_blas_thread_and_no_tensorboard(
        local_ray, tmp_path):
    """The local Ray's workers inherit the environment ray.init ran in: RAY_worker_niceness=0
    (Ray's default 15 lets any other process starve the trials) and one BLAS thread; Tune's
    TensorBoard logger (3.6 s of the driver's start) is off, its JSON and CSV loggers on."""
    result = run_sweep(spec(space={"x": {"grid": [0.1]}}, search="grid", seeds=[0]), {},
                       settings_trial, storage=tmp_path, name="env")
    (trial,) = result.trials
    assert trial.metrics == {"sharpe": 1.0, "nice": float(os.nice(0)), "blas": 1.0}
    files = {p.name for p in (tmp_path / "env").rglob("*") if p.is_file()}
    assert {"result.json", "progress.csv"} <= files
    assert not any(name.startswith("events.out.tfevents") for name in files)


def test_environ_sets_values_for_the_block_only(monkeypatch):
    monkeypatch.setenv("AUTOPORT_TEST_SET", "before")
    monkeypatch.delenv("AUTOPORT_TEST_UNSET", raising=False)
    with _environ({"AUTOPORT_TEST_SET": "in", "AUTOPORT_TEST_UNSET": "in"}):
        assert os.environ["AUTOPORT_TEST_SET"] == os.environ["AUTOPORT_TEST_UNSET"] == "in"
    assert os.environ["AUTOPORT_TEST_SET"] == "before"
    assert "AUTOPORT_TEST_UNSET" not in os.environ


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1"])
def test_an_unreachable_address_is_one_clear_error_in_seconds(address):
    with pytest.raises(ConfigError, match=f"cannot reach Ray at {address}"):
        with ray_session(address=address):
            pass
    with pytest.raises(ConfigError, match="must be auto, HOST:PORT"):
        with ray_session(address="nohostport"):
            pass
