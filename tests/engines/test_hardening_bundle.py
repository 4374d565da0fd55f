"""The zipline bundle survives an ingest killed part way and two first runs started together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# A child process: "hang" ingests but stops forever once the writers have written (the moment a
# Ctrl-C or SIGTERM hurts most); "ok" ensures the bundle and reads it back as a backtest would.
CHILD = r'''
import sys, time, pathlib
from autoport import data
from autoport.engines import zipline_bundle as zb

prices = data.bundled_prices().loc["2019-01-01":"2019-03-29", ["AAPL", "KO"]]
if sys.argv[1] == "hang":
    marker = pathlib.Path(sys.argv[2])
    plain = zb._register

    def slow_register(name, panel):
        from zipline.data import bundles
        plain(name, panel)
        reg = bundles.bundles[name]

        def slow(*args):
            reg.ingest(*args)
            marker.write_text("writers done")
            time.sleep(300)

        bundles.unregister(name)
        bundles.register(name, slow, calendar_name=reg.calendar_name,
                         start_session=reg.start_session, end_session=reg.end_session)

    zb._register = slow_register
name = zb.ensure_bundle(prices)
from zipline.data import bundles
with bundles.load(name, environ=zb.environ()) as loaded:
    assert [a.symbol for a in loaded.asset_finder.retrieve_all([0, 1])] == ["AAPL", "KO"]
    assert loaded.equity_daily_bar_reader.last_available_dt.year == 2019
print("ok", name)
'''


def _child(tmp_path: Path, *args: str) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "ZIPLINE_ROOT": str(tmp_path / "zipline"), "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, str(script), *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_an_ingest_killed_part_way_is_removed_and_the_next_run_succeeds(tmp_path):
    marker = tmp_path / "marker"
    hung = _child(tmp_path, "hang", str(marker))
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert hung.poll() is None, hung.communicate()
            assert time.monotonic() < deadline, "the ingest never reached its writers"
            time.sleep(0.2)
        hung.send_signal(signal.SIGTERM)  # what timeout, a CI cancel or docker stop send
        hung.communicate(timeout=60)
    finally:
        if hung.poll() is None:
            hung.kill()
            hung.communicate()
    assert hung.returncode == -signal.SIGTERM

    again = _child(tmp_path, "ok")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert out.startswith("ok autoport-")
    notes = [line for line in err.splitlines() if "incomplete zipline ingestion" in line]
    assert len(notes) == 1, err
    name = out.split()[1]
    root = tmp_path / "zipline"
    assert len([p for p in (root / "data" / name).iterdir() if not p.name.startswith(".")]) == 1
    assert not list(root.glob(".ingest-*"))


@pytest.mark.slow
def test_a_bundle_folder_without_data_is_replaced(tmp_path):
    """What an interrupted ingest left before staging existed: an empty timestamp folder."""
    from autoport import data
    from autoport.engines import zipline_bundle

    prices = data.bundled_prices().loc["2019-01-01":"2019-03-29", ["AAPL", "KO"]]
    name = zipline_bundle.bundle_name(prices)
    (tmp_path / "zipline" / "data" / name / "2026-01-01T00;00;00.000000").mkdir(parents=True)
    again = _child(tmp_path, "ok")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert out.split() == ["ok", name]
    assert "removing an incomplete zipline ingestion" in err


@pytest.mark.slow
def test_two_first_runs_started_together_both_succeed(tmp_path):
    runs = [_child(tmp_path, "ok") for _ in range(2)]
    results = [r.communicate(timeout=300) for r in runs]
    for run, (out, err) in zip(runs, results, strict=True):
        assert run.returncode == 0, err
        assert out.startswith("ok autoport-")
    name = results[0][0].split()[1]
    ingestions = [p for p in (tmp_path / "zipline" / "data" / name).iterdir()
                  if not p.name.startswith(".")]
    assert len(ingestions) == 1  # ingested once: the second run waited and reused it
