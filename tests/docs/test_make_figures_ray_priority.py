"""docs/make_figures.py runs the sweep's Ray workers at normal priority.

Ray starts its workers at nice 15; beside the script's other steps (normal priority) the
sweep's trials then got a few percent of a core (160-450 s wall for a trial of ~1 s CPU in
the 2042 s run). The raylet reads ``RAY_worker_niceness`` from the environment it inherits.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "make_figures.py"


def _script():
    spec = importlib.util.spec_from_file_location("make_figures_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_commands_start_ray_workers_at_normal_priority():
    env = _script().ENV
    assert env.get("RAY_worker_niceness") == "0"


def test_ray_reads_the_niceness_setting_by_that_name():
    # the name Ray's own job manager sets to run a job's workers at nice 0
    from ray._private import ray_constants

    assert ray_constants.RAY_WORKER_NICENESS == "RAY_worker_niceness"
