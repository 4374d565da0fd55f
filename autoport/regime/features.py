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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoport.errors import DataError

FEATURE_RET = "ret"
FEATURE_VOL = "log_vol"
HORIZONS = (5, 21, 63)


def market_features(ret: pd.Series, horizons: tuple[int, ...] = HORIZONS) -> pd.DataFrame:
    """``ret`` and its EWMA mean, log volatility, log downside deviation and trailing drawdown
    at each horizon (see the module docstring); each row from rows up to its date only (pandas'
    ``adjust=False`` recursions and trailing windows). The first ``max(horizons)`` rows, where
    the averages have not warmed up, are dropped."""
    if not horizons or min(horizons) < 1:
        raise DataError(f"horizons {list(horizons)} must be positive session counts")
    level = ret.cumsum()
    cols = {FEATURE_RET: ret}
    for h in horizons:
        ewm = dict(halflife=h, adjust=False)
        cols[f"ewm_ret:{h}"] = ret.ewm(**ewm).mean()
        cols[f"log_vol:{h}"] = 0.5 * np.log((ret**2).ewm(**ewm).mean().clip(lower=1e-12))
        cols[f"log_dd:{h}"] = 0.5 * np.log((ret.clip(upper=0.0) ** 2).ewm(**ewm).mean()
                                           .clip(lower=1e-12))
        cols[f"drawdown:{h}"] = level - level.rolling(4 * h, min_periods=1).max()
    return pd.DataFrame(cols).iloc[max(horizons):]


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
    if returns == "features":
        parts = [market_features(ret, tuple(horizons))]
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
    return frame


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
