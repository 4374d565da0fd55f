"""Shared fixtures: an isolated working area per test, so no test writes outside tmp_path."""

from __future__ import annotations

import pytest


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
