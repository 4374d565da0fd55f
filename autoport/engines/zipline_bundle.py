"""The zipline bundle of a price panel: ingested once, whole or not at all.

A bundle is named after the panel's content hash and lives in ``<zipline root>/data/<name>/``.
An ingestion is written into a hidden staging root beside it and renamed into place only when
complete, under a file lock per bundle, so an interrupted run (Ctrl-C, SIGTERM, a crash) or two
runs started together never leave a half-written bundle that later runs would try to read.
Leftovers of an interrupted ingestion are removed on the next start, with one line on stderr.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from autoport import data as data_mod
from autoport import workspace
from autoport.errors import DataError

BAR_VOLUME = 1_000_000_000  # fits zipline's uint32 volume column
STAGING_PREFIX = ".ingest-"
# files every complete ingestion holds (relative to data/<name>/<timestamp>/)
REQUIRED = ("assets-7.sqlite", "adjustments.sqlite", "daily_equities.bcolz")
LOCK_TIMEOUT_S = 600.0


def bundle_name(prices: pd.DataFrame) -> str:
    return f"autoport-{data_mod.content_hash(prices)}"


def environ() -> dict[str, str]:
    root = workspace.writable_folder(
        workspace.zipline_root(), f"the zipline folder {workspace.zipline_root()}",
        "set AUTOPORT_HOME (or ZIPLINE_ROOT) to a folder you can write",
    )
    return {"ZIPLINE_ROOT": str(root)}


def _register(name: str, prices: pd.DataFrame) -> None:
    from zipline.data import bundles

    def ingest(environ, asset_db_writer, minute_bar_writer, daily_bar_writer,
               adjustment_writer, calendar, start_session, end_session, cache,
               show_progress, output_dir):
        # per asset: listed from its first price to its last (a ragged panel); zipline
        # closes a position held past end_date at its last price on auto_close_date
        first = prices.apply(pd.Series.first_valid_index)
        last = prices.apply(pd.Series.last_valid_index)
        metadata = pd.DataFrame(
            {
                "symbol": prices.columns,
                "asset_name": prices.columns,
                "start_date": first.to_numpy(),
                "end_date": last.to_numpy(),
                "auto_close_date": (last + pd.Timedelta(days=1)).to_numpy(),
                "exchange": "NYSE",
            }
        )
        asset_db_writer.write(
            equities=metadata,
            exchanges=pd.DataFrame({"exchange": ["NYSE"], "country_code": ["US"]}),
        )

        def bars():
            for sid, ticker in enumerate(prices.columns):
                close = prices[ticker].dropna().round(6)
                yield sid, pd.DataFrame(
                    {"open": close, "high": close, "low": close, "close": close,
                     "volume": BAR_VOLUME},
                    index=close.index,
                )

        daily_bar_writer.write(bars(), show_progress=False)
        adjustment_writer.write()

    bundles.register(
        name, ingest, calendar_name="XNYS",
        start_session=prices.index[0], end_session=prices.index[-1],
    )


def _complete(bundle_dir: Path) -> bool:
    """True when the bundle folder holds at least one ingestion with every file zipline reads."""
    if not bundle_dir.is_dir():
        return False
    ingestions = [p for p in bundle_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return any(all((p / f).exists() for f in REQUIRED) for p in ingestions)


def _say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _remove_incomplete(root: Path, name: str) -> None:
    """Remove staging folders of interrupted ingestions and a bundle folder without data.

    Called under the bundle's lock, so no other process is writing these folders.
    """
    staged = sorted(root.glob(f"{STAGING_PREFIX}{name}-*"))
    bundle_dir = root / "data" / name
    broken = bundle_dir.exists() and not _complete(bundle_dir)
    if staged or broken:
        where = bundle_dir if broken else staged[0]
        _say(f"removing an incomplete zipline ingestion of {name} ({where}); ingesting again")
    for path in staged:
        shutil.rmtree(path, ignore_errors=True)
    if broken:
        shutil.rmtree(bundle_dir, ignore_errors=True)


def _ingest(root: Path, name: str) -> None:
    """Ingest into a staging root, then rename its bundle folder to ``data/<name>``."""
    from zipline.data import bundles

    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{name}-", dir=root))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bundles.ingest(name, environ={"ZIPLINE_ROOT": str(staging)}, show_progress=False)
        (root / "data").mkdir(parents=True, exist_ok=True)
        os.rename(staging / "data" / name, root / "data" / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure_bundle(prices: pd.DataFrame) -> str:
    """Register and (only if needed) ingest the bundle for this exact panel."""
    from filelock import FileLock, Timeout
    from zipline.data import bundles

    name = bundle_name(prices)
    root = Path(environ()["ZIPLINE_ROOT"])
    if name not in bundles.bundles:
        _register(name, prices)
    bundle_dir = root / "data" / name
    if _complete(bundle_dir):
        return name
    lock = FileLock(str(root / f".{name}.lock"), timeout=LOCK_TIMEOUT_S)
    try:
        with lock:
            if not _complete(bundle_dir):  # another process may have finished while we waited
                _remove_incomplete(root, name)
                _ingest(root, name)
    except Timeout:
        raise DataError(
            f"another autoport process has been ingesting the zipline bundle {name} for over "
            f"{LOCK_TIMEOUT_S:.0f} s (lock {lock.lock_file}); wait for it, or stop it and run again"
        ) from None
    return name
