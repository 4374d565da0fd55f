"""Run a notifier command for each alert, its JSON on stdin, off the monitoring thread.

A slow or failing notifier must neither delay the next bar nor stop monitoring: alerts queue
to one worker thread that runs the command (in order, with a timeout); failures are collected
for the caller to report (``failures()``), never raised.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading


class Notifier:
    def __init__(self, argv: list[str], *, timeout: float = 10.0) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self.sent = 0
        self.failed = 0
        self._jobs: queue.Queue[str | None] = queue.Queue()
        self._failures: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="autoport-notifier", daemon=True)
        self._thread.start()

    def send(self, alert: dict) -> None:
        self._jobs.put(json.dumps(alert))

    def failures(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self._failures.get_nowait())
            except queue.Empty:
                return out

    def close(self, wait: float = 15.0) -> None:
        """Let queued alerts go out (up to ``wait`` seconds), then stop the worker."""
        self._jobs.put(None)
        self._thread.join(wait)

    def _run(self) -> None:
        while (payload := self._jobs.get()) is not None:
            try:
                done = subprocess.run(self.argv, input=payload, text=True, capture_output=True,
                                      timeout=self.timeout, check=False)
            except (OSError, subprocess.SubprocessError) as exc:
                self.failed += 1
                self._failures.put(f"notifier {self.argv[0]!r} could not run: {exc}")
                continue
            if done.returncode != 0:
                self.failed += 1
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
                self._failures.put(f"notifier {self.argv[0]!r} exited {done.returncode}"
                                   + (f": {tail[0][:200]}" if tail[0] else ""))
            else:
                self.sent += 1
