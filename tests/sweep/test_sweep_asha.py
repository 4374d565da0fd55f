"""ASHA on intermediate results: a synthetic trainer whose learning curve is known.

The trainer evaluates every 100 steps up to 900 and reports ``x * (1 - exp(-step / 300))``
(its best so far): the larger ``x``, the better at every step, so ASHA (rungs at 100, 300 and
900 steps summed over the seeds, reduction factor 3) must stop the low ``x`` trials and let
the best one finish (the grid runs best first, so later trials meet full rungs). Stopped trials are recorded with their partial score and never win.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from autoport import configfile
from autoport.sweep.runner import TrialOutcome, run_sweep
from autoport.sweep.spec import SweepSpec

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
from ray import cloudpickle  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])
DATES = pd.bdate_range("2015-01-02", periods=120)
CALLS: list = []


def curve_trainer(config: dict, seed: int, report=None) -> TrialOutcome:
    x = float(config["x"])
    best = 0.0
    for step in range(100, 1000, 100):
        best = max(best, x * (1.0 - np.exp(-step / 300.0)))
        if report is not None:
            report(step, {"success_rate": best, "mean_excess_sharpe": 0.0})
    noise = np.random.default_rng(seed).standard_normal(len(DATES)) * 0.01
    return TrialOutcome({"success_rate": best, "mean_excess_sharpe": 0.0},
                        pd.Series(0.001 * x + noise, index=DATES))


def test_asha_stops_the_weak_trials_on_their_evaluations(local_ray, tmp_path):
    spec = configfile.validate(SweepSpec, {
        "target": "train-agent", "metric": "success_rate", "scheduler": "asha",
        "search": "grid", "seeds": [0],
        "space": {"x": {"grid": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]}}}, "spec")
    result = run_sweep(spec, {}, curve_trainer, storage=tmp_path, name="asha", max_steps=900)
    board = result.leaderboard()
    status = dict(zip(board["param.x"], board["status"], strict=True))
    assert status[0.9] == "ok" and result.winner.params == {"x": 0.9}
    stopped = [x for x, s in status.items() if s == "stopped"]
    assert stopped and 0.1 in stopped  # the weakest never reaches the last rung
    # a finished trial's score is its final best; a stopped one's its best when stopped
    assert result.winner.score == pytest.approx(0.9 * (1 - np.exp(-3.0)))
    for t in result.trials:
        if t.status == "stopped":
            x = t.params["x"]
            assert t.score < x * (1 - np.exp(-3.0)) and "stopped by ASHA" in t.error
    # stopped trials take no part in the judgement of the winner
    assert result.deflated_sharpe().n_trials == len(result.succeeded)
