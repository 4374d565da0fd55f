"""Incremental risk state of a held book: one bar of prices in, every live figure out.

Fitted once on the history, then each bar costs O(n^2) for n assets and O(W) for the
filtered-historical window W; nothing is refitted over the history:

- EWMA covariance (RiskMetrics, zero mean) through :class:`EwmaRiskMonitor`'s rank-1 update;
  parametric normal VaR/ES of the book from ``w' Sigma w``;
- filtered historical VaR/ES as :func:`autoport.risk.var_backtest.rolling_forecasts`'s
  ``filtered_historical`` model: the book's returns standardised by their causal EWMA
  volatility, a ring of the last W standardised returns, tomorrow's volatility times their
  empirical quantile (and tail mean);
- the book is held from the first live bar: weights drift with prices (buy and hold), so the
  concentration figure moves; over the history the weights are held constant (as in
  ``autoport stress``) to seed the book's volatility and residuals;
- drawdown of the book's value since monitoring began (1.0 at the start);
- average pairwise correlation over each rule's rolling window from running sums (S1 = sum r,
  S2 = sum r r'), refreshed exactly from the window every W bars so rounding cannot drift.

Horizon scaling is the square root of the horizon in bars (iid bars) for both VaR models.
VaR and ES are returns over the horizon, negative for losses; ES <= VaR.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from autoport._blas import blas_single
from autoport.errors import DataError
from autoport.risk.monitoring import EwmaRiskMonitor
from autoport.risk.var_backtest import ewma_variance
from autoport.risk.var_common import check_confidence
from autoport.risk.var_parametric import normal_var_es
from autoport import measures

SEED_OBS = 20  # as ewma_variance: the first 20 returns seed the book's EWMA variance


@dataclass(frozen=True)
class BarRisk:
    """Every live figure after one bar (VaR/ES over the horizon, negative = loss)."""

    time: pd.Timestamp
    bar: int  # 1 for the first live bar
    portfolio_return: float  # this bar's book return
    value: float  # book value since monitoring began (1.0 at the start)
    drawdown: float  # from the running peak of ``value`` (0 at a peak, negative below)
    var_parametric: float
    es_parametric: float
    var_filtered_historical: float
    es_filtered_historical: float
    max_weight: float
    max_weight_asset: str
    avg_correlation: dict[int, float]  # rolling window (bars) -> average pairwise correlation
    breach_forecasts: dict[float, float]  # confidence -> this bar's 1-bar FHS VaR (made before)
    weights: pd.Series = field(repr=False, compare=False)  # drifted book weights after the bar


class LiveRisk:
    """The incremental state; ``fit(prices)`` on the history, then ``update(prices, time)``.

    ``weights``: fractions of capital per ticker (the columns ``fit`` receives, in order).
    ``breach_confidences``: the VaR-breach rules' confidences (one-bar FHS forecasts kept).
    ``corr_windows``: rolling windows (bars) of the average-correlation figure(s).
    """

    def __init__(
        self,
        weights: pd.Series,
        *,
        confidence: float = 0.95,
        horizon_bars: int = 1,
        lam: float = 0.94,
        fhs_window: int = 500,
        corr_windows: tuple[int, ...] = (63,),
        breach_confidences: tuple[float, ...] = (0.95,),
    ) -> None:
        self.weights = weights.astype(float)
        self.confidence = check_confidence(confidence)
        self.horizon_bars = int(horizon_bars)
        self.lam = float(lam)
        self.fhs_window = int(fhs_window)
        self.corr_windows = tuple(sorted(set(int(w) for w in corr_windows)))
        self.breach_confidences = tuple(sorted(set(check_confidence(c) for c in
                                                   breach_confidences)))
        if self.fhs_window < 20:
            raise DataError(f"filtered-historical window {fhs_window} is too short; use >= 20")

    # ---------------------------------------------------------------- history
    @blas_single
    def fit(self, prices: pd.DataFrame) -> LiveRisk:
        tickers = list(self.weights.index)
        if list(prices.columns) != tickers:
            prices = prices[tickers]
        x = prices.to_numpy(dtype=float)
        r = x[1:] / x[:-1] - 1.0
        need = max(SEED_OBS + self.fhs_window, max(self.corr_windows, default=0)) + 1
        if r.shape[0] < need:
            raise DataError(
                f"the history holds {r.shape[0] + 1} bars but the monitor needs {need + 1} "
                f"({SEED_OBS} to seed the EWMA volatility plus the {self.fhs_window}-bar "
                "filtered-historical window); pass a longer --prices or a smaller --fhs-window"
            )
        self.tickers_ = tickers
        self.time_ = pd.Timestamp(prices.index[-1])
        self.last_prices_ = x[-1].copy()
        self.w_ = self.weights.to_numpy(dtype=float).copy()
        self.ewma_ = EwmaRiskMonitor(self.lam, self.confidence).fit(r)
        rp = r @ self.w_
        v = ewma_variance(rp, self.lam, SEED_OBS)  # causal: v[t] from returns before t
        z = rp[SEED_OBS:] / np.sqrt(v[SEED_OBS:])
        self.z_ = z[-self.fhs_window:].copy()  # ring; order is irrelevant to a quantile
        self.z_pos_ = 0
        self.v_next_ = self.lam * v[-1] + (1.0 - self.lam) * rp[-1] ** 2
        self.value_ = 1.0
        self.peak_ = 1.0
        self.bars_ = 0
        self.corr_ = {w: _RollingCorr(r[-w:]) for w in self.corr_windows}
        self.forecasts_ = self._breach_forecasts()
        return self

    # ---------------------------------------------------------------- one bar
    def asset_vol(self) -> np.ndarray:
        """One-bar EWMA volatility per asset (the bad-tick screen's yardstick)."""
        return np.sqrt(np.maximum(np.diag(self.ewma_.cov_), 0.0))

    @blas_single
    def update(self, prices: np.ndarray, time: pd.Timestamp) -> BarRisk:
        p = np.asarray(prices, dtype=float)
        r = p / self.last_prices_ - 1.0
        w = self.w_
        rp = float(w @ r)
        breach = self.forecasts_
        # book's filtered residual, then tomorrow's volatility (the ewma_variance recursion)
        self.z_[self.z_pos_] = rp / np.sqrt(self.v_next_)
        self.z_pos_ = (self.z_pos_ + 1) % self.z_.size
        self.v_next_ = self.lam * self.v_next_ + (1.0 - self.lam) * rp * rp
        self.ewma_.update(r)
        for acc in self.corr_.values():
            acc.push(r)
        growth = 1.0 + r
        self.w_ = w * growth / (1.0 + rp)  # buy and hold
        self.value_ *= 1.0 + rp
        self.peak_ = max(self.peak_, self.value_)
        self.last_prices_ = p
        self.time_ = pd.Timestamp(time)
        self.bars_ += 1
        self.forecasts_ = self._breach_forecasts()
        return self._figures(rp, breach)

    def _fhs(self, confidence: float) -> tuple[float, float]:
        """One-bar filtered historical VaR and ES (as rolling_forecasts' FHS model)."""
        a = 1.0 - confidence
        s = np.sqrt(self.v_next_)
        q, tail = measures.var_es(self.z_, a)  # the one tail rule (autoport.measures)
        return q * s, tail * s

    def _breach_forecasts(self) -> dict[float, float]:
        return {c: self._fhs(c)[0] for c in self.breach_confidences}

    def _figures(self, rp: float, breach: dict[float, float]) -> BarRisk:
        w = self.w_
        h = np.sqrt(self.horizon_bars)
        sigma = float(np.sqrt(max(w @ self.ewma_.cov_ @ w, 0.0)))
        var_p, es_p = normal_var_es(0.0, sigma * h, self.confidence)
        var_f, es_f = self._fhs(self.confidence)
        top = int(np.argmax(w))
        return BarRisk(
            time=self.time_,
            bar=self.bars_,
            portfolio_return=rp,
            value=self.value_,
            drawdown=self.value_ / max(self.peak_, 1.0) - 1.0,
            var_parametric=float(var_p),
            es_parametric=float(es_p),
            var_filtered_historical=var_f * h,
            es_filtered_historical=es_f * h,
            max_weight=float(w[top]),
            max_weight_asset=self.tickers_[top],
            avg_correlation={win: acc.average() for win, acc in self.corr_.items()},
            breach_forecasts=breach,
            weights=pd.Series(w, index=self.tickers_),
        )


class _RollingCorr:
    """Average pairwise correlation over the last W bars from running sums, O(n^2) a bar.

    With d_i = 1 / sqrt(S2_ii - S1_i^2 / W), the sum of all correlations is
    d' S2 d - (d' S1)^2 / W; the average drops the n ones of the diagonal.
    """

    def __init__(self, window_returns: np.ndarray) -> None:
        self.buf = np.array(window_returns, dtype=float)  # (W, n) ring
        self.pos = 0
        self._refresh()

    def _refresh(self) -> None:
        self.s1 = self.buf.sum(0)
        self.s2 = self.buf.T @ self.buf
        self.since = 0

    def push(self, r: np.ndarray) -> None:
        old = self.buf[self.pos].copy()
        self.buf[self.pos] = r
        self.pos = (self.pos + 1) % self.buf.shape[0]
        self.since += 1
        if self.since >= self.buf.shape[0]:  # exact again once per window: no rounding drift
            self._refresh()
            return
        self.s1 += r - old
        u = np.stack([r, old], axis=1)
        self.s2 += u @ (u * np.array([1.0, -1.0])).T

    def average(self) -> float:
        n = self.s1.size
        if n < 2:
            return float("nan")
        wlen = self.buf.shape[0]
        var = np.diag(self.s2) - self.s1 * self.s1 / wlen
        with np.errstate(invalid="ignore", divide="ignore"):
            d = 1.0 / np.sqrt(var)  # a flat asset: inf -> NaN, as the reference
            total = d @ self.s2 @ d - (d @ self.s1) ** 2 / wlen
        return float((total - n) / (n * (n - 1)))
