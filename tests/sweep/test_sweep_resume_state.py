"""Which saved experiment state tells the sweep it was interrupted.

A resumed fit copies the interrupted session's state file back into the experiment folder at
every save (Tune downloads it into its staging folder and uploads the whole folder), so after
a complete resume the folder holds the stale state (trials RUNNING/PENDING) with a file time as
recent as the new one's, often later. The sweep must read the newest session by name, as
``Tuner.restore`` does, or a finished resume reports itself interrupted (issue 14, item 7).
The files below have Tune's layout (``trial_data``: pairs of a trial's JSON state and its
run metadata), as seen in a real interrupted and resumed sweep.
"""

from __future__ import annotations

import json
import os

from autoport.sweep.runner import _unfinished


def _state(folder, session: str, statuses: list[str], mtime: float) -> None:
    path = folder / f"experiment_state-{session}.json"
    path.write_text(json.dumps({"trial_data": [
        [json.dumps({"trial_id": f"t{i}", "status": s}), "{}"] for i, s in enumerate(statuses)]}))
    os.utime(path, (mtime, mtime))


def test_a_finished_resume_is_not_read_as_interrupted_when_the_stale_state_is_touched_last(
        tmp_path):
    interrupted = ["TERMINATED"] * 3 + ["RUNNING", "PENDING", "PENDING"]
    _state(tmp_path, "2026-11-27_22-16-20", interrupted, mtime=2_000_000_010.80)
    # the resume's final save: the stale file was copied a few milliseconds after the new one
    _state(tmp_path, "2026-11-27_22-16-45", ["TERMINATED"] * 6, mtime=2_000_000_010.78)
    assert _unfinished(tmp_path) == 0


def test_an_interrupted_fit_counts_its_running_and_pending_trials(tmp_path):
    assert _unfinished(tmp_path) == 0  # no state saved yet
    _state(tmp_path, "2026-11-27_22-16-20", ["TERMINATED"] * 4, mtime=2_000_000_000.0)
    # a resume interrupted again: its own state is the newest by name whatever the file times
    _state(tmp_path, "2026-11-27_22-17-02",
           ["TERMINATED", "ERROR", "RUNNING", "PENDING"], mtime=1_999_999_000.0)
    assert _unfinished(tmp_path) == 2
