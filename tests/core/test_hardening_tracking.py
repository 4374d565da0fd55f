"""The tracking store: created once when runs start together; a dead server fails fast."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHILD = r'''
from autoport import tracking
run_id = tracking.log_run("autoport-race", run_name="race", params={"a": 1}, metrics={"m": 1.0})
print(run_id)
'''


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update({"AUTOPORT_HOME": str(home), "PYTHONWARNINGS": "ignore", **extra})
    return env


def test_two_tracked_runs_started_together_on_a_new_store_both_succeed(tmp_path):
    """Before the store was created under a lock this failed in 2 of 2 tries (schema races)."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    home = tmp_path / "home"
    runs = [
        subprocess.Popen([sys.executable, str(script)], env=_env(home), text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [r.communicate(timeout=300) for r in runs]
    for run, (out, err) in zip(runs, results, strict=True):
        assert run.returncode == 0, err[-3000:]
        assert len(out.strip()) == 32
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("autoport-race")
    found = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_id for r in found) == sorted(out.strip() for out, _ in results)


def _autoport(*args: str, home: Path, uri: str) -> tuple[subprocess.CompletedProcess, float]:
    exe = Path(sys.executable).with_name("autoport")
    began = time.monotonic()
    done = subprocess.run([str(exe), *args], env=_env(home, MLFLOW_TRACKING_URI=uri),
                          capture_output=True, text=True, timeout=240)
    return done, time.monotonic() - began


@pytest.mark.parametrize("command", [["optimize"], ["runs"], ["stress"], ["regime"]])
def test_a_dead_tracking_server_is_one_message_and_nothing_written(tmp_path, command):
    """Before the check, optimize and runs retried for over 4 minutes, then a traceback."""
    home = tmp_path / "home"
    done, elapsed = _autoport(*command, home=home, uri="http://127.0.0.1:9")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    message = " ".join(done.stderr.split())
    assert "http://127.0.0.1:9" in message and "start it" in message
    assert ("--no-track" in message) != (command == ["runs"])
    assert not home.exists()  # no store, no run folder
    # The whole command, interpreter start-up included (seconds on a loaded machine); the
    # probe itself is bounded by PROBE_TIMEOUT_S (see the silent-server test).
    assert elapsed < 60


def test_an_unknown_uri_scheme_is_one_message(tmp_path):
    home = tmp_path / "home"
    done, _ = _autoport("promote", "0" * 32, home=home, uri="foo://bar")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "Unsupported" not in done.stderr
    assert "MLFLOW_TRACKING_URI=foo://bar" in " ".join(done.stderr.split())
    assert not home.exists()


def test_a_server_that_accepts_but_never_answers_fails_within_the_probe_timeout(monkeypatch):
    from autoport import tracking
    from autoport.errors import TrackingError

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the backlog; nothing ever reads or replies
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        began = time.monotonic()
        with pytest.raises(TrackingError, match=f"server at {uri} .*does not answer"):
            tracking.check_reachable()
        assert time.monotonic() - began < tracking.PROBE_TIMEOUT_S + 2


def test_a_live_server_passes_the_check(monkeypatch):
    """Any HTTP answer counts as alive (MLflow reports its own errors from there on)."""
    import http.server
    import threading

    from autoport import tracking

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{server.server_port}/")
    tracking.check_reachable()
    thread.join(5)
    server.server_close()


def test_a_file_store_and_a_missing_database_driver_are_one_message_each(tmp_path):
    """Both were MLflow tracebacks (file store in maintenance mode; No module named ...)."""
    import mlflow.environment_variables

    home = tmp_path / "home"
    cases = [(f"file://{tmp_path}/store", "is a file store")]
    if not hasattr(mlflow.environment_variables, "MLFLOW_ALLOW_FILE_STORE"):
        cases = []  # an MLflow that still accepts file stores: nothing to refuse
    try:
        import pymysql  # noqa: F401
    except ImportError:
        cases.append(("mysql+pymysql://u@127.0.0.1:9/db", "needs a database driver"))
    for uri, expected in cases:
        done, _ = _autoport("runs", home=home, uri=uri)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        message = " ".join(done.stderr.split())
        assert f"MLFLOW_TRACKING_URI={uri}" in message and expected in message
    assert not home.exists()


def test_a_port_that_does_not_speak_http_and_credentials_in_the_uri_are_handled(monkeypatch):
    import threading

    from autoport import tracking
    from autoport.errors import TrackingError

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]

        def garbage():
            conn, _ = server.accept()
            conn.recv(1024)
            conn.sendall(b"SSH-2.0-not-http\r\n")
            conn.close()

        thread = threading.Thread(target=garbage, daemon=True)
        thread.start()
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://user:secret@127.0.0.1:{port}")
        with pytest.raises(TrackingError, match="does not answer") as caught:
            tracking.check_reachable()
        thread.join(5)
    assert "secret" not in str(caught.value)
    assert f"http://***@127.0.0.1:{port}" in str(caught.value)
