"""Features the regime HMM sees, built causally from prices.

Every feature on date ``t`` uses closes up to ``t`` only:

- returns, either ``returns="assets"``: one column ``ret:<ticker>`` per asset (daily log
  returns; the HMM then sees the cross-section, whose volatilities and correlations separate
  regimes within days), or ``returns="market"``: one column ``ret``, the daily log return of
  the market proxy (the series itself, or for a panel its equal-weight, daily-rebalanced index);
- ``log_vol`` (when ``realized_vol``): the log of the realized volatility of ``ret`` over the trailing ``vol_window``
  sessions (daily units, not annualized): a short window reacts within days to a volatility
  regime change, the log makes it closer to Gaussian;
- any ``extra`` columns the user supplies (volume, sentiment), aligned on the same dates.

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


def market_returns(prices: pd.DataFrame | pd.Series) -> pd.Series:
    """Daily log returns of the market proxy; a panel becomes its equal-weight index.

    The first session is dropped (it has no return).
    """
    if isinstance(prices, pd.DataFrame):
        if prices.shape[1] == 1:
            prices = prices.iloc[:, 0]
        else:
            simple = prices.pct_change().iloc[1:].mean(axis=1)
            return np.log1p(simple).rename(FEATURE_RET)
    return np.log(prices / prices.shift(1)).iloc[1:].rename(FEATURE_RET)


def build_features(
    prices: pd.DataFrame | pd.Series,
    *,
    returns: str = "assets",
    realized_vol: bool = False,
    vol_window: int = 10,
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
    if returns not in ("assets", "market"):
        raise DataError(f"unknown returns feature {returns!r}; use 'assets' or 'market'")
    ret = market_returns(prices)
    if returns == "assets" and isinstance(prices, pd.DataFrame) and prices.shape[1] > 1:
        parts = [np.log(prices / prices.shift(1)).iloc[1:].add_prefix(FEATURE_RET + ":")]
    else:
        parts = [ret.to_frame()]
    if realized_vol:
        vol = ret.rolling(vol_window).std(ddof=1)
        # a flat stretch has zero realized vol: floor it so the log stays finite
        parts.append(np.log(vol.clip(lower=1e-6)).rename(FEATURE_VOL))
    frame = pd.concat(parts, axis=1)
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
