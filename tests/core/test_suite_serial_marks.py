"""Every test of a module that imports Ray or uses the local_ray fixture carries the ``serial``
mark, so scripts/test.sh runs it in its one-process phase, never beside the parallel one (a new
Ray test lands there without anyone marking it). Read with a plain text scan, not the
conftest's AST walk, so a miss in either shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

RAY = re.compile(r"^\s*(import ray\b|from ray[. ]|.*importorskip\(\s*[\"']ray[\"'.])|\blocal_ray\b",
                 re.MULTILINE)
TESTS = Path(__file__).resolve().parents[1]


def test_modules_that_use_ray_are_marked_serial():
    ray_modules = {p.relative_to(TESTS.parent).as_posix() for p in TESTS.rglob("test_*.py")
                   if p != Path(__file__).resolve() and RAY.search(p.read_text())}
    assert "tests/sweep/test_sweep_cluster.py" in ray_modules  # the scan sees imports
    # those modules' collection (and this one's), as scripts/test.sh's parallel phase selects
    # it: a module's mark depends on its own source and fixtures only, so the rest of the suite
    # need not be imported. -P: not the source tree from the working directory, so an installed
    # (not editable) autoport is the one imported, as in scripts/test.sh
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    listed = subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-m", "not serial", str(Path(__file__).resolve()),
         *(str(TESTS.parent / m) for m in sorted(ray_modules))],
        cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stdout[-2000:] + listed.stderr[-2000:]
    parallel = {line.split("::")[0] for line in listed.stdout.splitlines() if "::" in line}
    assert "tests/core/test_suite_serial_marks.py" in parallel  # the listing is read right
    assert not parallel & ray_modules, f"start Ray but not marked serial: {parallel & ray_modules}"
