"""The feed edge: complete lines from a followed CSV file or stdin, parsed into rows.

The feed is a wide CSV like the price files: a header (timestamp, then one column per
ticker), then one row per bar. A file is read from its start and, when followed, polled for
appended lines like ``tail -f`` (a line counts once its newline arrives); stdin ends at EOF.
Each line is stamped with ``time.perf_counter()`` when read, the start of its latency.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from autoport.errors import DataError


@dataclass(frozen=True)
class Row:
    line: int  # 1-based line number in the feed
    time: pd.Timestamp
    prices: np.ndarray  # one per book ticker, in the book's order
    arrived: float  # perf_counter when the line was read
    text: str = ""  # the line as received


@dataclass(frozen=True)
class BadRow:
    line: int
    text: str
    reason: str
    arrived: float


def follow_lines(
    path: Path | None,
    *,
    follow: bool,
    poll: float = 0.01,
    idle: Callable[[], None] | None = None,
) -> Iterator[tuple[int, str, float]]:
    """``(line number, text, arrival)`` for every complete line; ``path=None`` reads stdin.

    ``follow``: at the end of a file, wait for more (``idle`` is called between polls, where
    the caller may report background events or stop by raising).
    """
    if path is None:
        for n, text in enumerate(iter(sys.stdin.readline, ""), start=1):
            yield n, text.rstrip("\r\n"), time.perf_counter()
        return
    if not path.exists():
        raise DataError(f"feed file {path} does not exist; pass an existing CSV or - for stdin")
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        n, partial = 0, ""
        while True:
            chunk = fh.readline()
            if chunk:
                partial += chunk
                if partial.endswith("\n"):
                    n += 1
                    yield n, partial.rstrip("\r\n"), time.perf_counter()
                    partial = ""
                continue
            if not follow:
                if partial:  # a last line without newline at the end of a finished file
                    yield n + 1, partial.rstrip("\r\n"), time.perf_counter()
                return
            if idle is not None:
                idle()
            time.sleep(poll)


def parse_time(text: str) -> datetime:
    """ISO timestamps (``2024-01-02``, ``2024-01-02 09:35:00``); a UTC offset is dropped so
    the wall clock where the feed was written is kept, as ``autoport.data`` does for files."""
    stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return stamp.replace(tzinfo=None) if stamp.tzinfo is not None else stamp


class RowParser:
    """Header first; then each line becomes a :class:`Row` or a :class:`BadRow` with a reason."""

    def __init__(self, tickers: list[str]) -> None:
        self.tickers = list(tickers)
        self.columns: list[int] | None = None
        self.width = 0

    def header(self, text: str, source: str) -> None:
        names = [c.strip().strip('"') for c in text.split(",")]
        missing = [t for t in self.tickers if t not in names[1:]]
        if missing:
            raise DataError(
                f"the feed {source} has no column for {', '.join(missing[:10])}"
                f"{' ...' if len(missing) > 10 else ''}; its header must name the timestamp "
                "column then every ticker of the book"
            )
        self.columns = [names.index(t) for t in self.tickers]
        self.width = len(names)

    def parse(self, line: int, text: str, arrived: float) -> Row | BadRow:
        fields = text.split(",")
        if len(fields) != self.width:
            return BadRow(line, text, f"{len(fields)} fields where the header has "
                          f"{self.width}", arrived)
        try:
            stamp = pd.Timestamp(parse_time(fields[0]))
        except ValueError:
            return BadRow(line, text, f"timestamp {fields[0]!r} is not a date/time", arrived)
        prices = np.empty(len(self.tickers))
        for k, col in enumerate(self.columns):
            cell = fields[col].strip()
            if not cell:
                return BadRow(line, text, f"missing price for {self.tickers[k]}", arrived)
            try:
                value = float(cell)
            except ValueError:
                return BadRow(line, text, f"non-numeric price {cell!r} for "
                              f"{self.tickers[k]}", arrived)
            if not (math.isfinite(value) and value > 0):
                return BadRow(line, text, f"price {cell} for {self.tickers[k]} is not a "
                              "positive finite number", arrived)
            prices[k] = value
        return Row(line, stamp, prices, arrived, text)
