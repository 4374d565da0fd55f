"""Shared fixtures: an isolated working area per test, so no test writes outside tmp_path; one
zipline root, one local Ray and one real MLflow tracking server on loopback per session."""

from __future__ import annotations

import ast
import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def pytest_configure(config):
    """Under pytest-xdist each worker gets its own AUTOPORT_HOME below the one given, so tests
    that use the process-wide working area (MLflow store, menu cache) never share a store, and
    the terminal width the main process had: workers start with COLUMNS=80, which the CLI's
    rich console would keep as a fixed width (tables then lose columns)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    base = os.environ.get("AUTOPORT_HOME")
    if base:
        os.environ["AUTOPORT_HOME"] = str(Path(base) / f"xdist-{worker}")
    columns = getattr(config, "workerinput", {}).get("autoport_columns")
    if columns is None:
        os.environ.pop("COLUMNS", None)
    else:
        os.environ["COLUMNS"] = columns


def imports_ray(path: Path) -> bool:
    """True if the test module imports Ray anywhere (``import ray``, ``from ray... import``,
    ``pytest.importorskip("ray")``), read from its source: the import may sit in a function."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "ray" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ray":
            return True
        if (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "importorskip"
                and node.args and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).split(".")[0] == "ray"):
            return True
    return False


def pytest_collection_modifyitems(config, items):
    """Mark ``serial`` every test of a module that imports Ray or has a test using the local_ray
    fixture: scripts/test.sh runs them in one process after the parallel phase, since a local
    ray.init() may attach to the cluster another test started on this machine, and two Rays on
    2 cores starve each other's timing-sensitive tests (interrupt/resume, cluster)."""
    modules: dict[Path, bool] = {}
    for item in items:
        path = Path(item.fspath)
        if path not in modules:
            modules[path] = imports_ray(path)
        if "local_ray" in getattr(item, "fixturenames", ()):
            modules[path] = True
    for item in items:
        if modules[Path(item.fspath)]:
            item.add_marker(pytest.mark.serial)


@pytest.fixture(autouse=True)
def no_ray_outside_serial(request):
    """A test not marked serial must not leave a Ray running in this process (it would share
    the machine with the parallel phase): it errors here, so the module gets marked."""
    yield
    if request.node.get_closest_marker("serial") is None and "ray" in sys.modules:
        ray = sys.modules["ray"]
        if getattr(ray, "is_initialized", lambda: False)():
            ray.shutdown()
            pytest.fail(f"{request.node.nodeid} started Ray but is not marked serial "
                        "(see tests/conftest.py's pytest_collection_modifyitems)")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist, main process: hand each worker this process's COLUMNS (None if unset)."""
    node.workerinput["autoport_columns"] = os.environ.get("COLUMNS")


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """A fresh AUTOPORT_HOME (MLflow store, zipline root, runs) and a default local store."""
    path = tmp_path / "autoport_home"
    monkeypatch.setenv("AUTOPORT_HOME", str(path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return path


@pytest.fixture(scope="session", autouse=True)
def shared_zipline_root(tmp_path_factory):
    """One zipline root for the session: a bundle is ingested once per data hash, not per test."""
    import os

    root = tmp_path_factory.mktemp("zipline_root")
    previous = os.environ.get("ZIPLINE_ROOT")
    os.environ["ZIPLINE_ROOT"] = str(root)
    yield root
    if previous is None:
        os.environ.pop("ZIPLINE_ROOT", None)
    else:
        os.environ["ZIPLINE_ROOT"] = previous


@pytest.fixture(scope="session")
def local_ray():
    """One local 2-CPU Ray for every sweep test (starting Ray costs seconds each time)."""
    ray = pytest.importorskip("ray")
    from autoport.sweep.runner import ray_session

    with ray_session(num_cpus=2):
        yield ray


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server:
    """A throwaway MLflow tracking server on loopback, in its own process group."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.url = folder, f"http://127.0.0.1:{free_port()}"
        self.log = open(folder / "server.log", "w")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1",
             "--port", self.url.rsplit(":", 1)[1], "--workers", "1",
             "--backend-store-uri", f"sqlite:///{folder / 'server.db'}",
             "--serve-artifacts", "--artifacts-destination", str(folder / "served")],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait(self) -> None:
        from autoport.testing import wait_for_http

        wait_for_http(self.proc, f"{self.url}/health", self.folder / "server.log",
                      what="mlflow server")

    def stop(self) -> None:
        # a throwaway store: a second for SIGTERM, then SIGKILL (the server kept waiting
        # 5 s on the clients' open connections)
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=1)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.log.close()


_early: dict[str, _Server] = {}


def pytest_collection_finish(session):
    """In a one-process run (scripts/test.sh's serial phase) whose selected tests use the
    ``server`` fixture, start the server now, in the background: its ~10 s start-up then
    overlaps the tests before the first that uses it, where it sat on the critical path. (Under
    pytest-xdist every worker collects everything, so the fixture starts it there, once.)"""
    if os.environ.get("PYTEST_XDIST_WORKER") or getattr(session.config, "workerinput", None):
        return
    if any("server" in getattr(item, "fixturenames", ()) for item in session.items):
        folder = session.config._tmp_path_factory.mktemp("mlflow_server")
        _early["server"] = _Server(folder)


def pytest_sessionfinish(session):
    """Stop an early-started server that no test asked for (every selected user was skipped)."""
    early = _early.pop("server", None)
    if early is not None:
        early.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One tracking server for the session (its start-up costs seconds), stopped (its process
    group) afterwards. Tests sharing it tell their runs apart by run and experiment ids."""
    srv = _early.pop("server", None) or _Server(tmp_path_factory.mktemp("mlflow_server"))
    try:
        srv.wait()
        yield srv.url, srv.folder / "served"
    finally:
        srv.stop()
