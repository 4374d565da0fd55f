"""Features the regime HMM sees, built causally from prices.

Every feature on date ``t`` uses closes up to ``t`` only:

- returns, either ``returns="assets"``: one column ``ret:<ticker>`` per asset (daily log
  returns; the HMM then sees the cross-section, whose volatilities and correlations separate
  regimes within days), or ``returns="market"``: one column ``ret``, the daily log return of
  the market proxy (the series itself, or for a panel its equal-weight, daily-rebalanced index);
  or ``returns="features"``: ``ret`` plus, at each horizon ``h`` of ``horizons`` (sessions),
  the exponentially weighted mean return ``ewm_ret:h`` (half-life ``h``), the log EWMA
  volatility ``log_vol:h``, the log downside deviation ``log_dd:h`` (EWMA of the squared
  negative returns) and the trailing drawdown ``drawdown:h`` (log distance below the highest
  index level of the last ``4h`` sessions): the statistical jump model's inputs (Shu, Yu and
  Mulvey 2024), which see a slide unfold over weeks where one day's return does not;
- ``log_vol`` (when ``realized_vol``): the log of the realized volatility of ``ret`` over the trailing ``vol_window``
  sessions (daily units, not annualized): a short window reacts within days to a volatility
  regime change, the log makes it closer to Gaussian;
- any ``extra`` columns the user supplies (volume, sentiment), aligned on the same dates.

On a ragged panel (late listings, delistings) the index on date ``t`` averages the assets
priced on both ``t-1`` and ``t``: an asset counts from its second price to its last, so a
listing or a delisting never enters as a return, and no price is invented. ``returns="assets"``
needs one column per asset on every row, so it keeps the assets priced on every row of the
history it is given: those listed all along (a history that outlives a delisting drops that
asset, so the batch run keeps only the survivors of its whole history, while the online filter
of a backtest keeps those alive at each decision); the index features use every asset.

Standardization is a separate step whose statistics come from the training window only
(:class:`Scaler`), so a refit never learns the scale of data it has not seen.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoport.errors import DataError
from autoport.regime.appendable import append

FEATURE_RET = "ret"
FEATURE_VOL = "log_vol"
HORIZONS = (5, 21, 63)


def market_features(ret: pd.Series, horizons: tuple[int, ...] = HORIZONS) -> pd.DataFrame:
    """``ret`` and its EWMA mean, log volatility, log downside deviation and trailing drawdown
    at each horizon (see the module docstring); each row from rows up to its date only (pandas'
    ``adjust=False`` recursions and trailing windows). The first ``max(horizons)`` rows, where
    the averages have not warmed up, are dropped."""
    return _market_columns(ret, horizons)[0].iloc[max(horizons):]


def _market_columns(ret: pd.Series, horizons: tuple[int, ...]) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`market_features` before its warm-up rows are dropped, and the raw EWMA averages
    on the last row (ret, ret², min(ret, 0)² per horizon: the recursions' state, which
    :class:`FeatureStream` continues)."""
    if not horizons or min(horizons) < 1:
        raise DataError(f"horizons {list(horizons)} must be positive session counts")
    level = ret.cumsum()
    cols = {FEATURE_RET: ret}
    last = []
    for h in horizons:
        ewm = dict(halflife=h, adjust=False)
        avg = [ret.ewm(**ewm).mean(), (ret**2).ewm(**ewm).mean(),
               (ret.clip(upper=0.0) ** 2).ewm(**ewm).mean()]
        cols[f"ewm_ret:{h}"] = avg[0]
        cols[f"log_vol:{h}"] = 0.5 * np.log(avg[1].clip(lower=1e-12))
        cols[f"log_dd:{h}"] = 0.5 * np.log(avg[2].clip(lower=1e-12))
        cols[f"drawdown:{h}"] = level - level.rolling(4 * h, min_periods=1).max()
        last += [a.iat[-1] if len(a) else np.nan for a in avg]
    return pd.DataFrame(cols), np.array(last, dtype=float)


def market_returns(prices: pd.DataFrame | pd.Series) -> pd.Series:
    """Daily log returns of the market proxy; a panel becomes its equal-weight index.

    The first session is dropped (it has no return). On a ragged panel each day's mean is over
    the assets priced on that day and the one before (see the module docstring).
    """
    if isinstance(prices, pd.DataFrame):
        if prices.shape[1] == 1:
            prices = prices.iloc[:, 0]
        else:
            # (a complete panel keeps pandas' default path: the row means then add up in the
            # same memory order, bit for bit, as before ragged panels were accepted)
            ragged = prices.isna().to_numpy().any()
            changes = prices.pct_change(fill_method=None) if ragged else prices.pct_change()
            simple = changes.iloc[1:].mean(axis=1)
            if simple.isna().any():
                day = simple.index[simple.isna().argmax()]
                raise DataError(f"no asset is priced on both {day.date()} and the session "
                                "before it; the market index has no return there (pass a "
                                "later --start)")
            return np.log1p(simple).rename(FEATURE_RET)
    return np.log(prices / prices.shift(1)).iloc[1:].rename(FEATURE_RET)


def build_features(
    prices: pd.DataFrame | pd.Series,
    *,
    returns: str = "assets",
    realized_vol: bool = False,
    vol_window: int = 10,
    horizons: tuple[int, ...] = HORIZONS,
    extra: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Raw (unstandardized) features, one row per session (from the first full vol window
    when ``realized_vol``).

    Measured on the synthetic generator (see ``tests/regime/test_regime_hmm.py``), per-asset returns
    without realized vol label best: the trailing vol window delays every switch by days.

    ``extra`` holds optional columns (for example ``volume`` or ``sentiment``) indexed by date;
    they must cover every feature date. Volume is best passed as a log or a ratio to its own
    trailing mean, since the HMM treats each column as Gaussian within a regime.
    """
    return _build(prices, returns=returns, realized_vol=realized_vol, vol_window=vol_window,
                  horizons=horizons, extra=extra)[0]


def _build(prices, *, returns, realized_vol, vol_window, horizons, extra=None
           ) -> tuple[pd.DataFrame, pd.Series, np.ndarray | None]:
    """:func:`build_features`, with the market returns and (``features``) the EWMA averages
    on the last row, which :class:`FeatureStream` continues."""
    if vol_window < 2:
        raise DataError(f"vol_window {vol_window} is too short; use at least 2 sessions")
    if len(prices) < vol_window + 2:
        raise DataError(
            f"regime features need at least {vol_window + 2} sessions, got {len(prices)}; "
            "pass a longer history or a shorter vol_window"
        )
    if isinstance(prices, (pd.Series, pd.DataFrame)) and (prices.to_numpy() <= 0).any():
        raise DataError("regime features need strictly positive prices")
    if returns not in ("assets", "market", "features"):
        raise DataError(
            f"unknown returns feature {returns!r}; use 'assets', 'market' or 'features'")
    ret = market_returns(prices)
    last = None
    if returns == "features":
        columns, last = _market_columns(ret, tuple(horizons))
        parts = [columns.iloc[max(horizons):]]
    elif returns == "assets" and isinstance(prices, pd.DataFrame) and prices.shape[1] > 1:
        # a ragged panel: the assets listed all along
        listed = prices.loc[:, prices.notna().all()] if prices.isna().to_numpy().any() else prices
        if listed.shape[1] == 0:
            raise DataError("returns: assets needs an asset priced on every session; none is "
                            "(a ragged panel): use returns: market or features, or a later "
                            "--start")
        parts = [np.log(listed / listed.shift(1)).iloc[1:].add_prefix(FEATURE_RET + ":")]
    else:
        parts = [ret.to_frame()]
    if realized_vol:
        vol = ret.rolling(vol_window).std(ddof=1)
        # a flat stretch has zero realized vol: floor it so the log stays finite
        parts.append(np.log(vol.clip(lower=1e-6)).rename(FEATURE_VOL))
    frame = pd.concat(parts, axis=1, join="inner")
    if frame.empty:
        raise DataError(
            f"{len(prices)} sessions leave no feature row after the {max(horizons)}-session "
            "warm-up of the horizons; pass a longer history or shorter horizons")
    if realized_vol:
        frame = frame.iloc[vol_window - 1 :]
    if extra is not None and not extra.empty:
        aligned = extra.reindex(frame.index)
        missing = aligned.isna().any(axis=1)
        if missing.any():
            raise DataError(
                f"extra feature columns {', '.join(map(str, extra.columns))} lack values on "
                f"{int(missing.sum())} date(s), first {missing.idxmax().date()}; "
                "supply them on every price date"
            )
        frame = pd.concat([frame, aligned.astype(float)], axis=1)
    if not np.isfinite(frame.to_numpy()).all():
        raise DataError("regime features hold non-finite values; check the prices for gaps")
    return frame, ret, last


class FeatureStream:
    """:func:`build_features` (without ``extra``) of a growing history, computing only the
    sessions added since the previous call.

    A backtest hands a strategy the history up to each decision, and rebuilding the features
    over all of it at every decision is quadratic in the backtest's length. The stream keeps
    the prices it has seen and the recursions' state (the EWMA averages, the index level and
    its trailing highs) and continues them over the new rows with pandas' own arithmetic (the
    ``adjust=False`` EWMA step ``(old·avg + α·x) / (old + α)`` with ``old = 1 − α``, skipped
    where the average already equals ``x``; a running sum; a trailing max), so its features
    are :func:`build_features`' bit for bit. A history whose earlier rows, dates or columns
    differ from those seen (another backtest, a changed price) is rebuilt from scratch, so
    nothing computed from other prices is ever reused. Per-asset returns on a ragged panel
    (whose columns depend on the whole history) are always rebuilt.

    Parameters
    ----------
    returns, realized_vol, vol_window, horizons
        As :func:`build_features`.
    """

    def __init__(self, *, returns: str = "assets", realized_vol: bool = False,
                 vol_window: int = 10, horizons: tuple[int, ...] = HORIZONS) -> None:
        self.kwargs = {"returns": returns, "realized_vol": realized_vol,
                       "vol_window": vol_window, "horizons": tuple(horizons)}
        self.rebuilds = 0  # whole-history builds (the first call, or a history not continued)
        self.reset()

    def reset(self) -> None:
        """Forget the history seen: the next call builds from scratch."""
        self._n = 0  # price rows seen
        self._values: np.ndarray | None = None  # their prices (read-only, as every array)
        self._index: pd.Index | None = None
        self._columns: pd.Index | None = None
        self._rows: np.ndarray | None = None  # the feature rows
        self._m = 0  # feature rows held
        self._names: list[str] = []
        self._ret: np.ndarray | None = None  # every market return (for the realized vol)
        self._ewm: np.ndarray | None = None  # raw EWMA averages after the last row
        self._levels: np.ndarray | None = None  # the index level's last 4·max(h) values
        self._frame: pd.DataFrame | None = None
        self._gaps = False  # a price missing in the rows seen
        self._last = None  # the prices of the last call (what ``_gaps`` describes)

    def has_gaps(self, prices: pd.DataFrame) -> bool:
        """Whether ``prices`` has a missing value (a ragged panel): known from the rows the
        last call checked when ``prices`` is that call's frame (no second scan of a long
        history), else scanned."""
        if prices is self._last:
            return self._gaps
        return bool(np.isnan(prices.to_numpy(dtype=float)).any())

    def __call__(self, prices: pd.DataFrame | pd.Series) -> pd.DataFrame:
        """``build_features(prices, **kwargs)``: only the rows after those seen are computed
        when ``prices`` continues the history seen. The frame is read-only."""
        frame = self._features_of(prices)
        self._last = prices
        if frame is None:  # the state's rows, as a frame (built once per history)
            if self._frame is None:
                self._frame = pd.DataFrame(self._rows, index=self._dates(),
                                           columns=self._names, copy=False)
            frame = self._frame
        return frame

    def arrays(self, prices: pd.DataFrame | pd.Series) -> tuple[np.ndarray, pd.Index, list]:
        """:meth:`__call__`'s frame as (values, dates, column names), without building the
        frame (a decision reads the values; the values are read-only).

        Parameters
        ----------
        prices
            Closes by date, as :meth:`__call__` takes them.
        """
        frame = self._features_of(prices)
        self._last = prices
        if frame is None:
            return self._rows, self._dates(), self._names
        return frame.to_numpy(dtype=float), frame.index, list(frame.columns)

    def _features_of(self, prices: pd.DataFrame | pd.Series) -> pd.DataFrame | None:
        """The features of a history that keeps no state (a series, a ragged panel's
        per-asset returns) or None: they are the state's rows, brought to ``prices``."""
        if not isinstance(prices, pd.DataFrame):
            self.reset()
            self._gaps = bool(prices.isna().any())
            return build_features(prices, **self.kwargs)
        values = prices.to_numpy(dtype=float)
        n = self._n
        if (n and len(prices) >= n and self._rows is not None
                and prices.columns.equals(self._columns)
                and same_dates(prices.index, self._index, n)
                and _same(values[:n], self._values[:n])):
            if len(prices) > n:
                self._extend(prices, values)
            return None
        return self._rebuild(prices, values)

    def _dates(self) -> pd.Index:
        return self._index[self._n - self._m: self._n]

    # ------------------------------------------------------------------ internals
    def _rebuild(self, prices: pd.DataFrame, values: np.ndarray) -> pd.DataFrame:
        self.reset()
        self.rebuilds += 1
        self._gaps = bool(np.isnan(values).any())
        frame, ret, self._ewm = _build(prices, **self.kwargs)
        kw = self.kwargs
        ragged_assets = (kw["returns"] == "assets" and prices.shape[1] > 1
                         and np.isnan(values).any())
        if ragged_assets:
            return frame  # no state: every call rebuilds
        if kw["realized_vol"]:
            self._ret = ret.to_numpy(dtype=float).copy()
        if kw["returns"] == "features":
            # the trailing highs' window: 4·max(h) levels, -inf before the first
            span = 4 * max(kw["horizons"])
            level = np.concatenate([np.full(span, -np.inf), ret.cumsum().to_numpy()])
            self._levels = level[-span:].copy()
        # the new rows' market returns in numpy (pandas' pct_change and row mean take ~1 ms
        # a call), if they equal pandas' to the bit on this history; else pandas' on the tail
        fast = _numpy_market_returns(values)
        self._numpy_returns = fast is not None and _same(fast, ret.to_numpy(dtype=float))
        # column-major, as pandas hands a frame's values: the next call's check reads both
        # arrays in the same order (three times faster than against a row-major copy)
        self._values = _frozen(values.copy(order="F"))
        self._n = len(values)
        self._index, self._columns = prices.index, prices.columns
        self._names = list(frame.columns)
        self._rows = _frozen(frame.to_numpy(dtype=float).copy())
        self._m = len(frame)
        self._frame = None
        return None

    def _extend(self, prices: pd.DataFrame, values: np.ndarray) -> None:
        """Compute the feature rows of ``prices``' rows after the ``_n`` seen, then commit."""
        kw, n = self.kwargs, self._n
        new_values = values[n:]
        if (new_values <= 0).any():
            raise DataError("regime features need strictly positive prices")
        parts = []
        ret = _numpy_market_returns(values[n - 1:]) if self._numpy_returns else None
        if ret is None:
            ret = market_returns(prices.iloc[n - 1:]).to_numpy(dtype=float)
        state = None
        if kw["returns"] == "features":
            cols, state = _continue_market(ret, self._ewm, self._levels, kw["horizons"])
            parts.append(cols)
        elif kw["returns"] == "assets" and prices.shape[1] > 1:
            tail = prices.iloc[n - 1:]
            parts.append(np.log(tail / tail.shift(1)).iloc[1:].to_numpy(dtype=float))
        else:
            parts.append(ret[:, None])
        all_ret = None
        if kw["realized_vol"]:
            all_ret = np.concatenate([self._ret, ret])
            vol = pd.Series(all_ret).rolling(kw["vol_window"]).std(ddof=1)
            parts.append(np.log(vol.clip(lower=1e-6)).to_numpy()[-len(ret):, None])
        rows = np.hstack(parts) if len(parts) > 1 else parts[0]
        if not np.isfinite(rows).all():
            raise DataError("regime features hold non-finite values; check the prices for gaps")
        # commit
        if state is not None:
            self._ewm, self._levels = state
        if all_ret is not None:
            self._ret = all_ret
        self._values = append(self._values, new_values, order="F")  # in place: no copy
        self._gaps = self._gaps or bool(np.isnan(new_values).any())
        self._n = len(values)
        self._index = prices.index
        self._rows = append(self._rows, rows)
        self._m += len(rows)
        self._frame = None

    def __deepcopy__(self, memo) -> FeatureStream:
        """A stream that continues apart from this one: its arrays are never written after
        they are made (each call concatenates new ones), so the copy shares them."""
        new = copy.copy(self)
        new.kwargs = dict(self.kwargs)
        memo[id(self)] = new
        return new


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def same_dates(index: pd.Index, seen: pd.Index, n: int) -> bool:
    """``index[:n].equals(seen[:n])``; on two datetime indexes of one unit and time zone by
    their int64 values (no two index slices built at every call)."""
    if (isinstance(index, pd.DatetimeIndex) and isinstance(seen, pd.DatetimeIndex)
            and index.dtype == seen.dtype):
        a, b = index.asi8, seen.asi8
        return len(a) >= n and len(b) >= n and bool((a[:n] == b[:n]).all())
    return index[:n].equals(seen[:n])


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """The same float arrays to the bit (NaN equal to NaN), in one pass."""
    return a.shape == b.shape and bool((a.view(np.int64) == b.view(np.int64)).all())


def _numpy_market_returns(values: np.ndarray) -> np.ndarray | None:
    """:func:`market_returns` of a complete panel's price rows in numpy (None when a price is
    missing or the panel has one column): the same operations, the row sum over contiguous
    memory as pandas does it (checked against pandas before use: :class:`FeatureStream`)."""
    if values.ndim != 2 or values.shape[1] < 2 or np.isnan(values).any():
        return None
    change = np.ascontiguousarray(values[1:] / values[:-1] - 1.0)
    return np.log1p(change.sum(axis=1) / values.shape[1])


def _continue_market(ret: np.ndarray, ewm: np.ndarray, levels: np.ndarray,
                     horizons: tuple[int, ...]) -> tuple[np.ndarray, tuple]:
    """:func:`market_features`' rows for the new returns ``ret``, continuing the EWMA state
    ``ewm`` and the trailing index ``levels``; the columns and the next state."""
    k = len(horizons)
    x = np.tile(np.column_stack([ret, ret * ret, np.minimum(ret, 0.0) ** 2]), k)
    # the recursion row by row on Python floats (IEEE doubles: numpy's elementwise numbers,
    # without a dozen array calls a row)
    state = ewm.tolist()
    coefs = _ewm_coefficients(tuple(horizons))
    rows = []
    for cur in x.tolist():
        state = [(o * p + a * c) / d if p != c else p
                 for p, c, (a, o, d) in zip(state, cur, coefs)]
        rows.append(state)
    avg = np.array(rows, dtype=float).reshape(x.shape)
    w = np.array(state, dtype=float) if rows else ewm
    level = np.cumsum(np.concatenate([levels[-1:], ret]))[1:]
    trail = np.concatenate([levels, level])
    out = [ret]
    m, span = len(ret), len(levels)
    for j, h in enumerate(horizons):
        # the 4h levels up to each new row (the trailing high's window), as a strided view
        win = np.lib.stride_tricks.as_strided(trail[span - 4 * h + 1:], shape=(m, 4 * h),
                                              strides=(trail.strides[0],) * 2, writeable=False)
        # the logs on contiguous arrays, as pandas takes them (numpy's SIMD log)
        vol = np.ascontiguousarray(np.maximum(avg[:, 3 * j + 1], 1e-12))
        down = np.ascontiguousarray(np.maximum(avg[:, 3 * j + 2], 1e-12))
        out += [avg[:, 3 * j], 0.5 * np.log(vol), 0.5 * np.log(down), level - win.max(axis=1)]
    return np.column_stack(out), (w, trail[-len(levels):].copy())


@functools.lru_cache(maxsize=32)
def _ewm_coefficients(horizons: tuple[int, ...]) -> list[tuple[float, float, float]]:
    """(alpha, old weight, denominator) of pandas' ``adjust=False`` EWMA step for each of
    the 3 averages per horizon: ``old = 1 - alpha`` (old_wt 1 times old_wt_factor), the
    denominator ``old + alpha``."""
    from pandas.core.window.ewm import get_center_of_mass

    alpha = np.repeat([1.0 / (1.0 + get_center_of_mass(None, None, h, None))
                       for h in horizons], 3)
    old = 1.0 - alpha
    return list(zip(alpha.tolist(), old.tolist(), (old + alpha).tolist()))


@dataclass(frozen=True)
class Scaler:
    """Column means and standard deviations of a training window."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, train: np.ndarray | pd.DataFrame) -> Scaler:
        x = np.asarray(train, dtype=float)
        std = x.std(axis=0, ddof=1)
        if (~np.isfinite(std)).any() or (std <= 0).any():
            raise DataError(
                "a regime feature is constant over the training window; remove that column "
                "or use a longer training window"
            )
        return cls(x.mean(axis=0), std)

    def transform(self, x: np.ndarray | pd.DataFrame) -> np.ndarray:
        return (np.asarray(x, dtype=float) - self.mean) / self.std


def check_columns(features: pd.DataFrame, fitted: tuple[str, ...]) -> None:
    """Refuse features built with other settings than the ones a model was fitted on."""
    if tuple(features.columns) != tuple(fitted):
        raise DataError(
            f"features have columns {list(features.columns)} but the model was fitted on "
            f"{list(fitted)}; build them with the same settings"
        )
