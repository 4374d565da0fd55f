"""What every command shares: error handling, price loading, JSON, atomic output folders.

Cheap to import (no numpy, pandas or core numerics at module level): every command module
imports this one, and ``autoport --help`` must not pay for libraries it does not use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from autoport import workspace
from autoport.errors import AutoportError

if TYPE_CHECKING:
    import pandas as pd

# Options every command shares, declared once.
PricesOption = Annotated[
    Path | None,
    typer.Option("--prices", help="wide CSV/Parquet of prices (default: the bundled data)"),
]
FfillOption = Annotated[bool, typer.Option("--ffill", help="forward-fill NaN gaps in --prices")]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="output folder (default: autoport_home/runs/...)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")]
NoTrackOption = Annotated[bool, typer.Option("--no-track", help="do not log the run to MLflow")]

console = Console()
err_console = Console(stderr=True)


def user_errors(fn: Callable) -> Callable:
    """Turn an ``AutoportError`` into one red line on stderr and exit code 1, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AutoportError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None

    return wrapper


def check_tracking(track: bool = True, hint: str = "pass --no-track") -> None:
    """Before any work: a tracking store that cannot be used is one message, not a long hang."""
    if track:
        from autoport import tracking

        tracking.check_reachable(hint)


def load_prices(
    path: Path | None,
    *,
    start: str | None = None,
    end: str | None = None,
    min_history: int = 2,
    ffill: bool = False,
) -> pd.DataFrame:
    """The user's file (validated) or the bundled panel, cut to ``[start, end]``."""
    from autoport import data

    raw = data.read_price_file(path) if path is not None else data.bundled_prices()
    prices = data.slice_dates(raw, start, end) if (start or end) else raw
    return data.validate_prices(prices, min_history=min_history, ffill=ffill)


def to_jsonable(obj):
    """Plain JSON types; NaN and infinities become null so the output stays valid JSON."""
    import numpy as np
    import pandas as pd

    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, pd.Series):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, pd.DataFrame):
        return to_jsonable(obj.to_dict(orient="index"))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    if isinstance(obj, (pd.Timestamp, datetime, date)):
        stamp = pd.Timestamp(obj)
        return stamp.isoformat()[:10] if stamp == stamp.normalize() else stamp.isoformat()
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(to_jsonable(obj), indent=2) + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def output_dir(out: Path | None, command: str) -> Iterator[tuple[Path, Path]]:
    """Yield ``(staging, final)``: write into staging; it becomes ``final`` only on success.

    An exception removes the staging folder, so an interrupted command leaves nothing
    half-written where the user looks.
    """
    final = Path(out) if out is not None else (
        workspace.runs_dir() / f"{command}-{datetime.now():%Y%m%d-%H%M%S-%f}"
    )
    final = final.resolve()
    if final.exists() and any(final.iterdir()):
        raise AutoportError(f"output folder {final} exists and is not empty; choose another --out")
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield staging, final
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if final.exists():
        final.rmdir()
    staging.rename(final)


# Progress on waits: stderr only (``--json`` stays clean), and only to a terminal (a log file
# or a pipe gets no spinner frames).
def show_progress(quiet: bool = False) -> bool:
    return not quiet and err_console.is_terminal


@contextlib.contextmanager
def waiting(message: str, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A spinner with the elapsed time while a step without a count runs (a tear sheet, an
    evaluation); yields ``say(text)`` to name the next step. Gone when the step ends."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                        console=err_console, transient=True, disable=not show_progress(quiet))
    with progress:
        task = progress.add_task(message, total=None)
        yield lambda text: progress.update(task, description=text)


@contextlib.contextmanager
def counting(label: str, unit: str, quiet: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A bar over a counted wait (model refits); yields ``advance(done, total)``."""
    from rich.progress import (
        BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
    )

    progress = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn(unit), TimeElapsedColumn(), console=err_console,
                        disable=not show_progress(quiet))
    task = None
    with progress:
        def advance(done: int, total: int) -> None:
            nonlocal task
            if task is None:
                task = progress.add_task(label, total=total)
            progress.update(task, completed=done, total=total)

        yield advance
