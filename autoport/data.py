"""Price panels: the bundled real data, a user's own file, and the checks every panel passes.

A price panel is a wide DataFrame: a sorted ``DatetimeIndex`` of sessions and one float column
per ticker holding adjusted closes. Everything downstream may assume :func:`validate_prices`
has accepted it.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from autoport.errors import DataError

BUNDLED_PRICES = "sp500_dataset.csv.gz"
BUNDLED_INDEX = "sp500_index.csv.gz"
BUNDLED_FACTORS = "factors_dataset.csv.gz"
BUNDLED_SECTORS = "sectors.csv"
# Plausible adjusted closes: far outside these, variances overflow or vanish in float64 and the
# estimators return NaN; no listed stock trades there (Berkshire A is about 7e5).
MIN_PRICE = 1e-6
MAX_PRICE = 1e9


def _bundled(name: str) -> pd.DataFrame:
    with resources.files("autoport.datasets").joinpath(name).open("rb") as fh:
        compression = "gzip" if name.endswith(".gz") else None
        return pd.read_csv(fh, index_col=0, parse_dates=True, compression=compression)


def bundled_prices() -> pd.DataFrame:
    """20 large US stocks, adjusted daily closes, 1990-01-02 to 2022-12-28 (skfolio, BSD-3)."""
    return _bundled(BUNDLED_PRICES).astype(float)


def bundled_benchmark() -> pd.Series:
    """The S&P 500 index level on the bundled sessions: the benchmark beside every result."""
    return _bundled(BUNDLED_INDEX)["SP500"].astype(float).rename("SP500")


def bundled_factors() -> pd.DataFrame:
    """Five factor ETFs (MTUM, QUAL, SIZE, USMV, VLUE), 2014-2022."""
    return _bundled(BUNDLED_FACTORS).astype(float)


def sector_map() -> dict[str, str]:
    """GICS sector of each bundled ticker."""
    with resources.files("autoport.datasets").joinpath(BUNDLED_SECTORS).open("r") as fh:
        frame = pd.read_csv(fh)
    return dict(zip(frame["ticker"], frame["sector"], strict=True))


def read_price_file(path: str | Path) -> pd.DataFrame:
    """Read a wide CSV or Parquet file (date index, one column per ticker); no validation.

    Parameters
    ----------
    path
        A ``.csv``, ``.csv.gz``, ``.txt``, ``.parquet`` or ``.pq`` file: dates in the first
        column, one column of adjusted closes per ticker.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"price file {path} does not exist; pass an existing CSV or Parquet file")
    suffixes = "".join(path.suffixes).lower()
    try:
        if suffixes.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
            if not isinstance(frame.index, pd.DatetimeIndex):
                frame = frame.set_index(frame.columns[0])
        elif suffixes.endswith((".csv", ".csv.gz", ".txt")):
            frame = pd.read_csv(path, index_col=0)
        else:
            raise DataError(
                f"price file {path} has an unknown type {suffixes or '(none)'}; "
                "use .csv, .csv.gz or .parquet"
            )
    except DataError:
        raise
    except Exception as exc:  # pandas raises many types for unreadable files
        raise DataError(f"could not read price file {path}: {exc}") from exc
    frame.index = session_dates(frame.index, f"the first column of {path}")
    frame.index.name = "date"
    return frame


# A time of day followed by a UTC offset ("00:00:00-05:00", "16:00Z"): the offset is dropped so
# the wall-clock date, the session date where the file was exported, is kept.
_TIME = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
_ZONE = r"\s*(?:Z|[+-]\d{2}:?\d{2})$"


def session_dates(index: pd.Index, where: str = "the date index") -> pd.DatetimeIndex:
    """Dates from a file's first column; timezone-aware stamps become their local session date.

    Data tools export daily bars as ``2019-01-02 00:00:00-05:00``; comparing those with
    tz-naive sessions fails, and offsets that change with daylight saving do not parse as one
    index at all. A column of numbers (a saved row index) would parse as nanoseconds after
    1970, so it is refused.

    Parameters
    ----------
    index
        The file's first column, parsed or not.
    where
        How messages name the column (for example ``the first column of prices.csv``).
    """
    if pd.api.types.is_numeric_dtype(index.dtype) or pd.api.types.is_bool_dtype(index.dtype):
        shown = ", ".join(map(str, index[:3]))
        raise DataError(
            f"{where} holds numbers ({shown}, ...), not dates (a saved row index?); "
            "put the dates (YYYY-MM-DD) in the first column"
        )
    if isinstance(index, pd.DatetimeIndex):
        return index.tz_localize(None).normalize() if index.tz is not None else index
    text = index.astype(str)
    aware = text.str.contains(_TIME + _ZONE, regex=True)
    if aware.any():
        text = text.str.replace(f"({_TIME}){_ZONE}", r"\1", regex=True)
    try:
        parsed = pd.DatetimeIndex(pd.to_datetime(text))
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"{where} must hold dates (YYYY-MM-DD); could not parse it: {exc}"
        ) from None
    return parsed.normalize() if aware.any() else parsed


def validate_prices(
    prices: pd.DataFrame, *, min_history: int = 2, ffill: bool = False, allow_jumps: bool = True,
    ragged: bool = False, too_short: str = "pass a longer history or a shorter --window",
) -> pd.DataFrame:
    """Return a clean float panel or raise one ``DataError`` naming the problem and the fix.

    ``min_history`` is the number of sessions the caller needs (for example the estimation
    window plus one). ``ffill`` forward-fills gaps *inside* a series only when the user asks;
    leading empty cells (an asset not yet listed) are never invented. ``allow_jumps=False``
    refuses one-day jumps that reverse (:func:`check_jumps`); the CLI passes it for user files.
    ``ragged`` accepts late listings (empty cells before an asset's first price) and
    delistings (empty cells after its last): each asset enters the investable universe once it
    has the estimation window of history and leaves at its last price (:func:`investable`).

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions (sorted ``DatetimeIndex``) by N tickers.
    min_history
        Sessions the caller needs (rows of the panel), for example the window plus one.
    ffill
        Forward-fill NaN gaps inside a series (never before its first price).
    allow_jumps
        Accept one-day jumps that reverse the next session; False refuses them.
    ragged
        Accept late listings and delistings (empty cells before the first or after the last
        price).
    too_short
        The fix a too-short history's message suggests.
    """
    if not isinstance(prices.index, pd.DatetimeIndex):
        raise DataError("prices need a date index; put dates in the first column")
    if prices.index.tz is not None:
        prices = prices.set_axis(session_dates(prices.index), axis=0)
    if prices.index.has_duplicates:
        dupes = prices.index[prices.index.duplicated()].unique()
        shown = ", ".join(str(d.date()) for d in dupes[:5])
        raise DataError(
            f"{len(dupes)} duplicate dates in prices (first: {shown}); keep one row per date"
        )
    if not prices.index.is_monotonic_increasing:
        bad = int(np.argmax(np.diff(prices.index.values) < np.timedelta64(0)))
        raise DataError(
            f"dates are not sorted: {prices.index[bad + 1].date()} comes after "
            f"{prices.index[bad].date()}; sort the file by date"
        )
    if prices.shape[1] < 2:
        raise DataError(
            f"prices hold {prices.shape[1]} asset(s); a portfolio needs at least two columns"
        )
    numeric = prices.apply(pd.to_numeric, errors="coerce")
    non_numeric = numeric.isna() & prices.notna()
    if non_numeric.to_numpy().any():
        col = non_numeric.any().idxmax()
        row = non_numeric[col].idxmax()
        raise DataError(
            f"non-numeric value {prices.at[row, col]!r} in column {col} on {row.date()}; "
            "prices must be numbers"
        )
    numeric = numeric.astype(float)
    if np.isinf(numeric.to_numpy()).any():
        col = np.isinf(numeric).any().idxmax()
        raise DataError(f"infinite price in column {col}; prices must be finite numbers")
    non_positive = numeric <= 0
    if non_positive.to_numpy().any():
        col = non_positive.any().idxmax()
        row = non_positive[col].idxmax()
        raise DataError(
            f"non-positive price {numeric.at[row, col]} in column {col} on {row.date()}; "
            "prices must be strictly positive adjusted closes"
        )
    implausible = (numeric < MIN_PRICE) | (numeric > MAX_PRICE)
    if implausible.to_numpy().any():
        col = implausible.any().idxmax()
        row = implausible[col].idxmax()
        raise DataError(
            f"implausible price {numeric.at[row, col]:.6g} in column {col} on {row.date()}; "
            f"prices must lie between {MIN_PRICE:g} and {MAX_PRICE:g} (check the units and "
            "the file for corrupted values)"
        )
    numeric = _check_gaps(numeric, ffill=ffill, ragged=ragged)
    if not allow_jumps:
        check_jumps(numeric)
    if len(numeric) < min_history:
        raise DataError(
            f"prices hold {len(numeric)} sessions but {min_history} are needed "
            f"(estimation window plus one); {too_short}"
        )
    return numeric


def _check_gaps(prices: pd.DataFrame, *, ffill: bool, ragged: bool = False) -> pd.DataFrame:
    """Refuse empty cells: leading ones name the listing date, inner ones offer ``ffill``.

    With ``ragged``, cells before an asset's first price and after its last are kept empty
    (listing and delisting); only gaps inside its life count.
    """
    missing = prices.isna()
    if not missing.to_numpy().any():
        return prices
    first_valid = prices.apply(pd.Series.first_valid_index)
    if ragged and first_valid.isna().any():
        # listed after (or delisted before) the period: it cannot be held in it
        prices = prices.loc[:, first_valid.notna()]
        if prices.shape[1] < 2:
            raise DataError("fewer than two assets have prices in the period; widen "
                            "--start/--end")
        return _check_gaps(prices, ffill=ffill, ragged=True)
    if first_valid.isna().any():
        col = first_valid[first_valid.isna()].index[0]
        raise DataError(f"column {col} holds no prices at all; remove it")
    if ragged:
        last_valid = prices.apply(pd.Series.last_valid_index)
        rows = prices.index.to_numpy()[:, None]
        alive = (rows >= first_valid.to_numpy()[None, :]) & (rows <= last_valid.to_numpy()[None, :])
        missing = missing & alive
        if not missing.to_numpy().any():
            return prices
    late = first_valid[first_valid > prices.index[0]]
    if len(late) and not ragged:
        listing = ", ".join(f"{t} from {d.date()}" for t, d in late.items())
        raise DataError(
            f"{len(late)} asset(s) start after the first date ({listing}); "
            f"pass --start {late.max().date()} or drop those columns"
        )
    count = int(missing.to_numpy().sum())
    per_col = missing.sum()
    per_col = per_col[per_col > 0]
    where = "; ".join(
        f"{col}: {n} (first {missing[col].idxmax().date()})" for col, n in per_col.items()
    )
    if not ffill:
        raise DataError(
            f"{count} missing prices (NaN gaps) in the panel: {where}; "
            "fill or remove them, or pass --ffill to carry the last price forward"
        )
    filled = prices.ffill()
    return filled.where(~prices.bfill().isna(), np.nan) if ragged else filled


def investable(history: pd.DataFrame, sessions: int) -> list[str]:
    """Assets priced on each of the last ``sessions`` rows: listed for a whole estimation
    window and not delisted. The universe a decision at ``history``'s last row may hold.

    Parameters
    ----------
    history
        Adjusted closes up to the decision, shape (T, N); NaN where an asset is not listed.
    sessions
        Rows an asset must be priced on (the estimation window).
    """
    tail = history.iloc[-max(int(sessions), 1):]
    return [c for c in history.columns if tail[c].notna().all()]


def investable_mask(prices: pd.DataFrame, sessions: int) -> np.ndarray:
    """:func:`investable` at every row at once: a (rows, assets) bool array, True where the
    asset is priced on that row and the ``sessions - 1`` before it (False on the first
    ``sessions - 1`` rows).

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N); NaN where an asset is not listed.
    sessions
        Rows of prices an asset needs up to a row to count as investable there.
    """
    priced = prices.notna().to_numpy()
    n = max(int(sessions), 1)
    counts = np.cumsum(np.vstack([np.zeros((1, priced.shape[1]), dtype=int), priced]), axis=0)
    out = np.zeros_like(priced)
    out[n - 1:] = (counts[n:] - counts[:-n]) == n
    return out


def complete_universe(prices: pd.DataFrame, sessions: int | None) -> tuple[pd.DataFrame, str]:
    """The assets investable over the last ``sessions`` rows and the rows they all share.

    ``sessions`` None takes every asset priced on the last row, from the date the last of
    them was listed. Returns the complete (NaN-free) panel and a note naming what was left
    out ("" when nothing was); no asset at all is one ``DataError``.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions (sorted ``DatetimeIndex``) by N tickers;
        NaN where an asset is not listed.
    sessions
        Rows an asset must be priced on; None: priced on the last row.
    """
    if not prices.isna().to_numpy().any():
        return prices, ""
    cols = investable(prices, sessions if sessions is not None else 1)
    if len(cols) < 2:
        raise DataError(
            f"fewer than two assets have {sessions or 1} sessions of prices up to "
            f"{prices.index[-1].date()}; pass a later --end, a shorter --window or more assets"
        )
    complete = prices[cols].notna().all(axis=1)
    keep = int(complete[::-1].cumprod().sum())
    panel = prices[cols].iloc[-keep:]
    left = [c for c in prices.columns if c not in cols]
    parts = []
    if left:
        first = prices[left].apply(pd.Series.first_valid_index)
        last = prices[left].apply(pd.Series.last_valid_index)
        why = [f"{c} (prices {first[c].date()} to {last[c].date()})" for c in left]
        parts.append(f"{len(left)} asset(s) without {sessions} sessions of prices up to "
                     f"{prices.index[-1].date()} left out: {', '.join(why)}")
    if keep < len(prices) and sessions is None:
        parts.append(f"the window starts {panel.index[0].date()}, when the last asset listed")
    return panel, "; ".join(parts)


def select(prices: pd.DataFrame, tickers: list[str] | None) -> pd.DataFrame:
    """Keep ``tickers`` in the given order, refusing unknown ones by name.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions (sorted ``DatetimeIndex``) by N tickers.
    tickers
        Columns to keep, in this order; None or empty keeps every column.
    """
    if not tickers:
        return prices
    unknown = [t for t in tickers if t not in prices.columns]
    if unknown:
        raise DataError(
            f"unknown ticker(s) {', '.join(unknown)}; available: {', '.join(prices.columns)}"
        )
    return prices[list(tickers)]


def parse_date(value: str | pd.Timestamp) -> pd.Timestamp:
    """A date a user typed (``2019-01-31``); words like ``yesterday`` are one ``DataError``.

    Parameters
    ----------
    value
        A date as ``YYYY-MM-DD`` or a ``Timestamp``.
    """
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise DataError(f"{value!r} is not a date; give it as YYYY-MM-DD") from None
    if stamp is pd.NaT:
        raise DataError(f"{value!r} is not a date; give it as YYYY-MM-DD")
    return stamp.tz_localize(None) if stamp.tz is not None else stamp


def slice_dates(
    prices: pd.DataFrame,
    start: str | pd.Timestamp | None,
    end: str | pd.Timestamp | None,
    *,
    start_flag: str = "--start",
    end_flag: str = "--end",
) -> pd.DataFrame:
    """Restrict to ``[start, end]`` and refuse a window the data do not cover.

    Messages name the options the user typed (``end_flag`` is ``--as-of`` where that is the
    option), and never a date the user did not give.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions (sorted ``DatetimeIndex``) by N tickers.
    start, end
        First and last date kept (inclusive); None: the panel's own.
    start_flag, end_flag
        The option names messages use for ``start`` and ``end``.
    """
    first, last = prices.index[0], prices.index[-1]
    start_ts = parse_date(start) if start is not None else None
    end_ts = parse_date(end) if end is not None else None
    if start_ts is not None and end_ts is not None and start_ts > end_ts:
        raise DataError(
            f"{start_flag} {start_ts.date()} is after {end_flag} {end_ts.date()}; swap them"
        )
    cover = f"the data cover {first.date()} to {last.date()}"
    if end_ts is not None and end_ts < first:
        raise DataError(f"{end_flag} {end_ts.date()} is before the first date; {cover}")
    if start_ts is not None and start_ts > last:
        raise DataError(f"{start_flag} {start_ts.date()} is after the last date; {cover}")
    out = prices.loc[start_ts:end_ts]
    if out.empty:
        raise DataError(
            f"no prices between {start_ts.date() if start_ts is not None else first.date()} "
            f"and {end_ts.date() if end_ts is not None else last.date()}; {cover}"
        )
    return out


def past_the_data(prices: pd.DataFrame, end: str | pd.Timestamp | None) -> pd.Timestamp | None:
    """The last date when ``end`` lies after it (the run then ends there), else None.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions (sorted ``DatetimeIndex``) by N tickers.
    end
        The last date asked for; None: no end asked.
    """
    if end is None or parse_date(end) <= prices.index[-1]:
        return None
    return prices.index[-1]


# A bad tick: a one-day move of at least this factor (up or down) that the next session undoes
# to within REVERSAL of the price before. Adjusted closes of listed stocks do not do this; a
# misplaced decimal point or a wrong unit for one day does (x100 for pence vs pounds).
JUMP_FACTOR = 5.0
REVERSAL = 1.5


def find_jumps(prices: pd.DataFrame) -> list[tuple[str, pd.Timestamp, float]]:
    """``(ticker, date, factor)`` of every one-day jump that reverses the next session.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions (sorted ``DatetimeIndex``) by N tickers.
    """
    found = []
    for ticker in prices.columns:
        col = prices[ticker].dropna()
        if len(col) < 3:
            continue
        p = col.to_numpy(dtype=float)
        up = p[1:-1] / p[:-2]  # day t against t-1
        back = p[2:] / p[:-2]  # day t+1 against t-1
        big = (up >= JUMP_FACTOR) | (up <= 1.0 / JUMP_FACTOR)
        undone = (back <= REVERSAL) & (back >= 1.0 / REVERSAL)
        for i in np.flatnonzero(big & undone):
            found.append((str(ticker), col.index[i + 1], float(up[i])))
    return found


def check_jumps(prices: pd.DataFrame) -> None:
    """Refuse a panel holding bad ticks, naming each ticker and date (at most five).

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions (sorted ``DatetimeIndex``) by N tickers.
    """
    jumps = find_jumps(prices)
    if not jumps:
        return
    shown = "; ".join(f"{t} on {d.date()} (x{f:.4g})" for t, d, f in jumps[:5])
    more = f" and {len(jumps) - 5} more" if len(jumps) > 5 else ""
    raise DataError(
        f"{len(jumps)} one-day price jump(s) of x{JUMP_FACTOR:g} or more that reverse the next "
        f"session, likely bad ticks: {shown}{more}; fix those prices, or pass --allow-jumps "
        "if they are real"
    )


def non_nyse_dates(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Dates of ``index`` that are not NYSE (XNYS) sessions, by exchange-calendars.

    Parameters
    ----------
    index
        Sorted dates to check.
    """
    import exchange_calendars as xcals

    first = min(index[0], pd.Timestamp("1990-01-01"))
    calendar = xcals.get_calendar("XNYS", start=first)
    if index[-1] > calendar.last_session:
        calendar = xcals.get_calendar("XNYS", start=first, end=index[-1])
    return index.difference(calendar.sessions_in_range(index[0], index[-1]))


def content_hash(frame: pd.DataFrame | pd.Series) -> str:
    """A short SHA-256 of values, index and column names: the identity of a data set.

    Parameters
    ----------
    frame
        The data set (prices, returns or a benchmark series).
    """
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    names = frame.columns if isinstance(frame, pd.DataFrame) else [frame.name]
    digest.update("|".join(map(str, names)).encode())
    return digest.hexdigest()[:16]


def simple_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Daily simple returns; the first session is dropped.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): T sessions (sorted ``DatetimeIndex``) by N tickers.
    """
    return prices.pct_change().iloc[1:]
