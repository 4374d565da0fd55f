"""Regime switching: the HMM's filtered regime picks the objective and constraints.

At each decision the strategy is handed the history up to the decision date. It

1. builds the detector's features from that history;
2. uses an HMM fitted on the first ``anchor`` feature rows, where ``anchor`` is the last point
   of a fixed grid (``min_train``, ``min_train + refit_every``, ...) not after the decision
   date. The grid depends on the history only, so the fit is the same whatever the call
   sequence; the strategy caches it and refits only when the anchor moves (every
   ``refit_every`` sessions), which keeps a 30-year monthly backtest to a few dozen fits;
3. filters the regime probabilities causally through the decision date and applies hysteresis
   (a switch needs ``threshold`` held ``hold_days`` sessions and ``min_hold`` sessions since
   the previous switch) so the portfolio does not churn;
4. solves the active regime's objective (``configs/regime.yaml``: bull → max Sharpe,
   sideways → min volatility, bear → min volatility with a tighter cap on a recent window).

A switch within the last ``cost_lookback`` sessions is priced: the turnover between the
previous regime's portfolio and the new one, both solved on the same history, times
``cost_bps``, reported in ``details`` (the engine charges the actual trading costs).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from autoport import portfolio
from autoport.errors import ConfigError, DataError
from autoport.regime.config import DetectorConfig, RegimeConfig, load_config
from autoport.regime.features import build_features
from autoport.regime.hmm import HMMFit, fit_hmm
from autoport.regime.hysteresis import hysteresis
from autoport.strategies.base import Decision, check_weights


class RegimeSwitching:
    name = "regime"

    def __init__(
        self, *, config: RegimeConfig | str | Path | None = None, **detector_overrides
    ) -> None:
        """``config``: a loaded config or a YAML path (default: the bundled regime.yaml);
        keyword arguments override ``detector`` settings and are validated like the file."""
        cfg = config if isinstance(config, RegimeConfig) else load_config(config)
        if detector_overrides:
            try:
                det = DetectorConfig.model_validate(
                    {**cfg.detector.model_dump(), **detector_overrides}
                )
            except ValidationError as exc:
                parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
                raise ConfigError(
                    f"bad detector settings for the regime strategy: {'; '.join(parts)}"
                ) from None
            cfg = cfg.model_copy(update={"detector": det})
        self.config = cfg
        det = cfg.detector
        warmup = (det.vol_window if det.realized_vol else 1) + 1
        longest = max(p.window for p in cfg.strategy.regimes.values())
        self.min_history = max(det.min_train + warmup, longest + 1)
        self._cache: tuple[tuple, HMMFit] | None = None
        self.fits = 0  # how many HMM fits this object ran (the cache's effect)

    # ------------------------------------------------------------------------------------

    def _fit_for(self, feats: pd.DataFrame) -> tuple[HMMFit, int]:
        det, every = self.config.detector, self.config.strategy.refit_every
        m = len(feats)
        if m < det.min_train:
            raise DataError(
                f"the regime strategy needs {self.min_history} sessions of history, got "
                f"{m}; start the backtest later or lower detector.min_train"
            )
        anchor = det.min_train + ((m - det.min_train) // every) * every
        lo = 0 if det.train_window is None else max(0, anchor - det.train_window)
        train = feats.iloc[lo:anchor]
        digest = hashlib.sha1(np.ascontiguousarray(train.to_numpy()).tobytes()).hexdigest()
        key = (lo, anchor, train.index[0], train.index[-1], digest)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, fit_hmm(train, **det.fit_kwargs()))
            self.fits += 1
        return self._cache[1], lo

    def regimes(self, history: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, HMMFit]:
        """Filtered probabilities and the hysteresis regime path, from ``history`` only."""
        feats = build_features(history, **self.config.detector.feature_kwargs())
        fit, lo = self._fit_for(feats)
        probs = fit.filter(feats.iloc[lo:])
        s = self.config.strategy
        active = hysteresis(
            probs, threshold=s.threshold, hold_days=s.hold_days, min_hold=s.min_hold
        )
        return probs, active, fit

    def _solve(self, history: pd.DataFrame, regime: str) -> portfolio.Solution:
        pol = self.config.strategy.regimes[regime]
        return portfolio.solve(
            history.iloc[-(pol.window + 1) :], **pol.solve_arguments(history.shape[1])
        )

    def _target(self, history: pd.DataFrame, regime: str) -> tuple[pd.Series, portfolio.Solution]:
        """Invested weights for ``regime``, scaled down by its cash sleeve (the rest is cash)."""
        result = self._solve(history, regime)
        cash = self.config.strategy.regimes[regime].cash
        return check_weights(result.weights) * (1.0 - cash), result

    def decide(self, history: pd.DataFrame) -> Decision:
        if len(history) < self.min_history:
            raise DataError(
                f"the regime strategy needs {self.min_history} sessions of history, got "
                f"{len(history)}; start the backtest later or lower detector.min_train"
            )
        probs, active, fit = self.regimes(history)
        s = self.config.strategy
        regime = str(active.iloc[-1])
        weights, result = self._target(history, regime)
        recent = active.iloc[-(s.cost_lookback + 1) :]
        previous = str(recent.iloc[0])
        switch_cost = 0.0
        if previous != regime:
            old, _ = self._target(history, previous)
            turnover = float((weights - old).abs().sum())
            switch_cost = turnover * s.cost_bps / 1e4
        last_year = active.iloc[-252:].to_numpy()
        pol = s.regimes[regime]
        filtered_now = probs.iloc[-1]
        reason = (
            f"regime {regime} (filtered {filtered_now.idxmax()} p={filtered_now.max():.2f}) → "
            f"{pol.objective} cap {pol.max_weight:.0%}"
            + (f", {pol.cash:.0%} cash" if pol.cash else "")
            + f" on {pol.window} sessions to "
            f"{history.index[-1].date()}"
            + (f"; switched from {previous}, est. cost {switch_cost:.3%}" if switch_cost else "")
            + (f" ({result.note})" if result.note else "")
        )
        return Decision(
            history.index[-1],
            weights,
            reason,
            {
                "regime": regime,
                "filtered_regime": str(filtered_now.idxmax()),
                "probabilities": {k: float(v) for k, v in filtered_now.items()},
                "previous_regime": previous,
                "switch_cost": switch_cost,
                "switches_last_year": int((last_year[1:] != last_year[:-1]).sum()),
                "model_trained_to": fit.train_end,
                "model_converged": fit.converged,
                "expected_return": result.expected_return,
                "volatility": result.volatility,
            },
        )
