"""`autoport monitor` end to end: bad rows, notifier, a followed file, Ctrl-C and SIGTERM.

The drawdown cases are hand-calculated: every asset moves by the same return, so the book's
return is the move. Moves -6%, -6%, +1%, +10%, -12% give values 0.94, 0.8836, 0.8924, 0.9817,
0.8639 under a peak of 1: drawdown -11.6% < -10% fires on bar 2; bar 3 (-10.8%) is the same
episode; bar 4 (-1.8%, above the -5% re-arm) re-arms; bar 5 (-13.6%) fires again.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoport_cli.main import app

MOVES = [-0.06, -0.06, 0.01, 0.10, -0.12]
EXPECTED_ALERT_BARS = [2, 5]


def _args(market, feed, out, *extra):
    return ["monitor", "--weights", str(market["weights"]), "--prices", str(market["hist"]),
            "--feed", str(feed), "--fhs-window", "40", "--json", "--no-track", "--out",
            str(out), *extra]


def _events(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_bad_rows_are_reported_and_skipped(market, feed_lines, tmp_path, home):
    good = feed_lines(market["prices"], market["next_day"], [0.005, 0.0, 0.01, 0.002])
    day = [ln.split(",")[0] for ln in good]
    spike = good[1].split(",")
    spike[1] = f"{float(spike[1]) * 3:.10g}"  # AAA x3 for one row, back on the next
    feed = tmp_path / "feed.csv"
    feed.write_text("\n".join([
        "date,AAA,BBB,CCC,DDD,EXTRA",
        good[0] + ",1",
        f"{day[1]},abc,1,1,1,1",                   # non-numeric
        f"{day[1]},,101,101,101,1",               # missing ticker
        good[0] + ",1",                            # timestamp not after the previous bar
        ",".join(spike) + ",1",                    # bad tick ...
        good[2] + ",1",                            # ... reversed here
        f"{day[3]},1,2,3",                         # too few fields
        good[3] + ",1",
    ]) + "\n")
    out = tmp_path / "run"
    res = CliRunner().invoke(app, _args(market, feed, out, "--no-follow"))
    assert res.exit_code == 0, res.output
    ev = _events(res.stdout)
    assert "daily" in ev[0]["horizon"] and "horizon 1d = 1 session" in ev[0]["horizon"]
    bars = [e for e in ev if e["event"] == "bar"]
    assert [b["line"] for b in bars] == [2, 7, 9]
    skipped = [(e["line"], e["reason"]) for e in ev if e["event"] == "skipped"]
    assert [s[0] for s in skipped] == [3, 4, 5, 6, 8]
    reasons = [s[1] for s in skipped]
    assert "non-numeric price 'abc' for AAA" in reasons[0]
    assert "missing price for AAA" in reasons[1]
    assert "is not after the previous bar" in reasons[2]
    assert reasons[3].startswith("bad tick: AAA jumped +200.0% and reversed on line 7")
    assert "4 fields where the header has 6" in reasons[4]
    assert [e["line"] for e in ev if e["event"] == "held"] == [6]
    # the row after the bad tick is measured from the last good prices (line 2), not the spike
    assert bars[1]["return"] == pytest.approx(1.01 * 1.0 - 1, abs=1e-9)
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["bars"], summary["rows_skipped"]) == (3, 5)
    assert len((out / "skipped.jsonl").read_text().splitlines()) == 5
    assert ev[-1]["event"] == "summary" and ev[-1]["stopped_by"] == "end of feed"


@pytest.mark.parametrize("works", [True, False])
def test_notifier_gets_each_alert_and_a_failing_one_does_not_stop(
    works, market, feed_lines, drawdown_rules, tmp_path, home
):
    feed = tmp_path / "feed.csv"
    feed.write_text("\n".join(["date,AAA,BBB,CCC,DDD",
                               *feed_lines(market["prices"], market["next_day"], MOVES)]) + "\n")
    got = tmp_path / "notified.txt"
    script = (f"import sys; open({str(got)!r}, 'a').write(sys.stdin.read() + chr(10))" if works
              else "import sys; sys.stdin.read(); print('pager down', file=sys.stderr); "
              "sys.exit(3)")
    notify = f"{sys.executable} -c \"{script}\""
    out = tmp_path / "run"
    res = CliRunner().invoke(app, _args(market, feed, out, "--alerts", str(drawdown_rules),
                                        "--notify", notify, "--no-follow"))
    assert res.exit_code == 0, res.output
    ev = _events(res.stdout)
    bars = [e for e in ev if e["event"] == "bar"]
    assert len(bars) == len(MOVES)  # every bar answered either way
    assert [b["bar"] for b in bars if b["alerts"]] == EXPECTED_ALERT_BARS
    summary = ev[-1]
    if works:
        sent = [json.loads(x) for x in got.read_text().splitlines() if x]
        assert [a["rule"] for a in sent] == ["drawdown_alert"] * 2
        assert sent[0]["value"] == pytest.approx(0.94 * 0.94 - 1)
        assert (summary["notifications_sent"], summary["notifier_failures"]) == (2, 0)
    else:
        failed = [e["message"] for e in ev if e["event"] == "notifier_failed"]
        assert len(failed) == 2 and "exited 3: pager down" in failed[0]
        assert summary["notifier_failures"] == 2
    assert len((out / "alerts.jsonl").read_text().splitlines()) == 2


def _spawn(args, home, **kw):
    env = {**os.environ, "AUTOPORT_HOME": str(home)}
    # from a folder outside the checkout: `-m` puts the working folder first on sys.path, and
    # the source tree's autoport/ lacks the bundled data the installed package holds
    proc = subprocess.Popen([sys.executable, "-m", "autoport_cli.main", *args], env=env,
                            cwd=home.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    return proc, lines


def _next(lines: queue.Queue, timeout: float = 60.0) -> dict:
    return json.loads(lines.get(timeout=timeout))


def test_rows_appended_by_another_process_are_answered_in_order_then_ctrl_c(
    market, feed_lines, drawdown_rules, tmp_path, home
):
    feed = tmp_path / "feed.csv"
    feed.write_text("date,AAA,BBB,CCC,DDD\n")
    out = tmp_path / "run"
    proc, lines = _spawn(_args(market, feed, out, "--alerts", str(drawdown_rules)), home)
    try:
        assert _next(lines)["event"] == "start"
        rows = feed_lines(market["prices"], market["next_day"], MOVES)
        writer = subprocess.Popen([sys.executable, "-c", (
            "import sys, time\n"
            f"for row in {rows!r}:\n"
            f"    with open({str(feed)!r}, 'a') as fh:\n"
            "        fh.write(row + '\\n')\n"
            "    time.sleep(0.2)\n")])
        answers = [_next(lines) for _ in MOVES]
        assert writer.wait(30) == 0
        assert [a["line"] for a in answers] == [2, 3, 4, 5, 6]  # in order, one per row
        assert [a["time"] for a in answers] == [r.split(",")[0] for r in rows]
        fired = [[x["rule"] for x in a["alerts"]] for a in answers]
        assert fired == [["drawdown_alert"] if i + 1 in EXPECTED_ALERT_BARS else []
                         for i in range(len(MOVES))]
        assert answers[4]["drawdown"] == pytest.approx(0.94 * 0.94 * 1.01 * 1.1 * 0.88 - 1)
        assert all(a["latency_ms"] < 5000 for a in answers)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, proc.stderr.read()
    finally:
        proc.kill()
    summary = _next(lines, 5)
    assert summary["event"] == "summary" and summary["stopped_by"] == "SIGINT"
    assert (summary["bars"], summary["alerts_fired"]) == (5, 2)
    assert 0 < summary["latency_ms_p50"] <= summary["latency_ms_p99"] < 5000
    saved = json.loads((out / "summary.json").read_text())
    assert saved["bars"] == 5 and saved["stopped_by"] == "SIGINT"
    assert len((out / "bars.jsonl").read_text().splitlines()) == 5
    assert len((out / "alerts.jsonl").read_text().splitlines()) == 2
    assert not list(out.glob(".*.tmp"))


def test_sigterm_while_waiting_on_stdin_ends_cleanly(market, feed_lines, tmp_path, home):
    out = tmp_path / "run"
    proc, lines = _spawn(_args(market, "-", out), home, stdin=subprocess.PIPE)
    try:
        proc.stdin.write("date,AAA,BBB,CCC,DDD\n")
        proc.stdin.writelines(r + "\n" for r in
                              feed_lines(market["prices"], market["next_day"], [0.01, -0.01]))
        proc.stdin.flush()
        assert _next(lines)["event"] == "start"
        assert [_next(lines)["event"] for _ in range(2)] == ["bar", "bar"]
        time.sleep(0.2)  # now blocked reading stdin, which stays open
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, proc.stderr.read()
    finally:
        proc.kill()
    summary = _next(lines, 5)
    assert (summary["stopped_by"], summary["bars"]) == ("SIGTERM", 2)
    assert json.loads((Path(out) / "summary.json").read_text())["bars"] == 2
