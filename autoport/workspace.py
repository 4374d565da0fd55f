"""Where autoport keeps its files: one working area, ``$AUTOPORT_HOME`` or ``./autoport_home``.

It holds the MLflow store (``mlflow.db`` + ``mlartifacts/``), zipline's root (``zipline/``) and
run outputs (``runs/``). Nothing is written to the user's home directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from autoport.errors import AutoportError


def home() -> Path:
    return Path(os.environ.get("AUTOPORT_HOME", "autoport_home")).resolve()


def writable_folder(path: Path, what: str, fix: str) -> Path:
    """Create ``path`` (and parents) and check it can be written; else one ``AutoportError``.

    ``what`` names the folder in the message (``AUTOPORT_HOME /x``, ``--out /y``) and ``fix``
    says what to do. A file in the way, a read-only parent and a full disk each get one line.
    """
    path = Path(path)
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        where = "is a file" if blocker == path else f"lies under the file {blocker}"
        raise AutoportError(f"{what} {where}, not a folder; {fix}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AutoportError(
            f"{what} cannot be created ({exc.strerror or exc}); {fix}"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise AutoportError(f"{what} is read-only; {fix}")
    return path


def checked_home() -> Path:
    """The working area, created and writable, or one message naming AUTOPORT_HOME."""
    return writable_folder(
        home(), f"the working area (AUTOPORT_HOME) {home()}",
        "set AUTOPORT_HOME to a folder you can write",
    )


def zipline_root() -> Path:
    return Path(os.environ.get("ZIPLINE_ROOT", home() / "zipline")).resolve()


def runs_dir() -> Path:
    return checked_home() / "runs"
