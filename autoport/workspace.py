"""Where autoport keeps its files: one working area, ``$AUTOPORT_HOME`` or ``./autoport_home``.

It holds the MLflow store (``mlflow.db`` + ``mlartifacts/``), zipline's root (``zipline/``) and
run outputs (``runs/``). Nothing is written to the user's home directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("AUTOPORT_HOME", "autoport_home")).resolve()


def zipline_root() -> Path:
    return Path(os.environ.get("ZIPLINE_ROOT", home() / "zipline")).resolve()


def runs_dir() -> Path:
    return home() / "runs"
