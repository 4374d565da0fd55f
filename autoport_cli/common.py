"""What every command shares: error handling, price loading, JSON, atomic output folders.

Cheap to import (no numpy, pandas or core numerics at module level): every command module
imports this one, and ``autoport --help`` must not pay for libraries it does not use.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from autoport import workspace
from autoport.jsonable import to_jsonable  # noqa: F401 (the commands import it from here)
from autoport.errors import AutoportError

if TYPE_CHECKING:
    import pandas as pd

# Options every command shares, declared once.
PricesOption = Annotated[
    Path | None,
    typer.Option("--prices", help="wide CSV/Parquet of prices",
                 show_default="the bundled data"),
]
FfillOption = Annotated[bool, typer.Option("--ffill", help="forward-fill NaN gaps in --prices")]
StartOption = Annotated[
    str | None, typer.Option("--start", help="first date of the prices used (YYYY-MM-DD)",
                               show_default="the first date of the prices")
]
EndOption = Annotated[
    str | None, typer.Option("--end", help="last date of the prices used (YYYY-MM-DD)",
                             show_default="the last date of the prices")
]
AllowJumpsOption = Annotated[
    bool,
    typer.Option("--allow-jumps", help="accept one-day price jumps of x5 or more that reverse "
                 "the next day (refused as bad ticks by default)"),
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="output folder", show_default="autoport_home/runs/COMMAND-TIME"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")]
TrackOption = Annotated[
    bool, typer.Option("--track/--no-track", help="log the run to MLflow")
]


def tidy_help(params) -> None:
    """What ``--help`` shows for each option: no ``<bool>`` type for a flag (it takes no value),
    and a described default (``show_default="..."``, for options that default to None so a
    ``--config`` file can set them) as ``[default: 756]`` rather than click's ``(756)``."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        shown = getattr(param, "show_default", None)
        if isinstance(shown, str):
            # rich markup would read "[default: ...]" as a tag: escape it
            param.help = f"{param.help or ''} {escape(f'[default: {shown}]')}".strip()
            param.show_default = False


class Command(TyperCommand):
    """Typer's command with :func:`tidy_help` applied to its options."""

    def format_help(self, ctx, formatter) -> None:
        tidy_help(self.get_params(ctx))
        super().format_help(ctx, formatter)


class Group(TyperGroup):
    """Typer's group (the ``autoport`` app itself) with :func:`tidy_help` applied."""

    def format_help(self, ctx, formatter) -> None:
        tidy_help(self.get_params(ctx))
        super().format_help(ctx, formatter)


def bundled_config(path: Path | None, err=None) -> Path | None:
    """``configs/NAME.yaml`` as written in the README, from any folder.

    When the given path does not exist, is relative, sits in a ``configs`` folder and the
    installed package bundles a file of that name (``autoport.configs``), that copy is used and
    a note on stderr says so. Anything else is returned unchanged (the loader then says it is
    missing).
    """
    if path is None or path.exists() or path.is_absolute() or path.parent.name != "configs":
        return path
    from importlib import resources

    bundled = resources.files("autoport.configs").joinpath(path.name)
    if not bundled.is_file():
        return path
    found = Path(str(bundled))
    (err or err_console).print(f"[yellow]note:[/] {path} is not in {Path.cwd()}; using the "
                               f"bundled copy {found}", highlight=False, soft_wrap=True)
    return found

def _file_width(stream) -> int | None:
    """Output to a file or a pipe: 120 columns (rich's 80 would cut the wider tables' cells to
    "…"); a terminal, or an explicit COLUMNS, keeps rich's own width."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return None if tty or os.environ.get("COLUMNS") else 120


console = Console(width=_file_width(sys.stdout))
err_console = Console(stderr=True, width=_file_width(sys.stderr))


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, a CI cancel, ``docker stop``), unwound like Ctrl-C."""


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``), so
    the same cleanup runs as for Ctrl-C: staging folders removed, an MLflow run ended KILLED."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def user_errors(fn: Callable) -> Callable:
    """Turn an ``AutoportError`` into one red line on stderr and exit code 1, no traceback.

    Ctrl-C and SIGTERM end the command with one line and the shell's codes (130, 143) after
    the cleanup has run.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with _sigterm_as_interrupt():
                return fn(*args, **kwargs)
        except AutoportError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt as exc:
            name = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
            err_console.print(
                f"[bold red]interrupted[/] ({name}): nothing was kept; a tracked run that had "
                "started is marked KILLED", highlight=False, soft_wrap=True)
            raise typer.Exit(code=143 if name == "SIGTERM" else 130) from None

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
    allow_jumps: bool = False,
    end_flag: str = "--end",
    raw: pd.DataFrame | None = None,
    ragged: bool = False,
    too_short: str = "pass a longer history or a shorter --window",
) -> pd.DataFrame:
    """The user's file (validated) or the bundled panel, cut to ``[start, end]``.

    The period is applied before the checks, so an asset listed after the data's first date
    is fine once ``--start`` is on or after its listing. An ``end`` past the data is said on
    stderr (the run ends at the last date); dates that are not NYSE sessions in a user's file
    are said too (every command takes the file's rows as its sessions; only the zipline engine
    needs NYSE sessions). ``too_short`` is the fix a too-short history is told (an option the
    command has). ``ragged`` accepts late listings and delistings (commands whose
    core admits each asset once it has the estimation window: optimize, stress, backtest,
    regime, train-agent, sweep).
    """
    from autoport import data

    if raw is None:
        raw = data.read_price_file(path) if path is not None else data.bundled_prices()
    prices = data.slice_dates(raw, start, end, end_flag=end_flag) if (start or end) else raw
    last = data.past_the_data(raw, end)
    if last is not None:
        note(f"{end_flag} {end} lies past the data; using its last date, {last.date()}")
    panel = data.validate_prices(
        prices, min_history=min_history, ffill=ffill, allow_jumps=allow_jumps, ragged=ragged,
        too_short=too_short,
    )
    absent = [str(c) for c in prices.columns if c not in panel.columns]
    if absent:
        note(f"{', '.join(absent)} ha{'s' if len(absent) == 1 else 've'} no prices between "
             f"{panel.index[0].date()} and {panel.index[-1].date()}; left out")
    if path is not None:
        off = data.non_nyse_dates(panel.index)
        if len(off):
            shown = ", ".join(str(d.date()) for d in off[:3])
            note(f"{len(off)} date(s) in {path} are not NYSE sessions (first: {shown}); every "
                 "row is taken as a session (252 a year); the zipline engine needs NYSE "
                 "sessions, --engine sim does not")
    return panel


def note(message: str) -> None:
    """One yellow line on stderr: something the user should know, not an error."""
    err_console.print(f"[yellow]note:[/] {message}", highlight=False, soft_wrap=True)


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
    flag = f"--out {final}" if out is not None else f"the run folder {final}"
    fix = "choose another --out" if out is not None else "set AUTOPORT_HOME or pass --out"
    if final.exists() and not final.is_dir():
        raise AutoportError(f"{flag} is a file, not a folder; {fix}")
    if final.exists() and any(final.iterdir()):
        raise AutoportError(f"output folder {final} exists and is not empty; choose another --out")
    workspace.writable_folder(final.parent, f"{flag}: its parent folder", fix)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    except OSError as exc:
        raise AutoportError(f"{flag} cannot be written ({exc.strerror or exc}); {fix}") from None
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
