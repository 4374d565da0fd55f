"""Observation and action menu from the prices up to a decision, shared by env and strategy.

Both functions take the history ending at the decision close and nothing later; the env and
:mod:`autoport.strategies.dqn` call the same code, so a trained policy sees the same numbers in
a zipline backtest as in training.

Regime features (``regime_features: true``) are the detector's filtered probabilities on the
decision date. The env computes them once per panel with :func:`autoport.regime.detector.detect`
(:func:`regime_matrix`, cached per process); a strategy only ever holds the history up to the
decision, so :class:`RegimeObservations` runs the same filter
(:class:`autoport.regime.online.OnlineRegimeFilter`) incrementally over the growing history.
Its refit grid is counted from the first feature row, so a history cut at ``t`` gets the same
probability on every date up to ``t`` as the whole panel (``tests/envs/test_env.py`` checks it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autoport import data as data_mod
from autoport.envs.config import EnvConfig
from autoport.errors import DataError
from autoport.regime.config import DetectorConfig

OBS_CLIP = 10.0
RETURN_SCALE = 50.0  # daily log returns of ~2% become ~1
N_REGIMES = 3  # bull, bear, sideways (autoport.regime.hmm.REGIMES order)
_REGIME_CACHE: dict[tuple, np.ndarray] = {}
_LOGGED_MODELS: dict[str, object] = {}  # run id -> LoggedModel, loaded once per process
_REGIME_CACHE_LIMIT = 8


def obs_size(n_assets: int, config: EnvConfig) -> int:
    regimes = N_REGIMES if config.regime_features else 0
    return n_assets * (config.lookback + 2 + len(config.actions)) + 1 + regimes


def menu_offset(n_assets: int, config: EnvConfig) -> int:
    """Where the menu block (n_actions x n_assets weights) starts in the observation."""
    return n_assets * (config.lookback + 2) + 1


def menu_weights(history: pd.DataFrame, config: EnvConfig) -> np.ndarray:
    """Long-only asset weights for each menu item, (n_actions, n_assets); cash is the rest.

    Every row sums to 1 except ``defensive``, which holds ``defensive_cash`` in cash (0%).
    ``history`` ends at the decision close; only its last ``estimation_window + 1`` rows are
    read. The same numbers as the env's batched build (:mod:`autoport.envs.menus`).
    """
    from autoport.envs import menus

    return menus.menu_weights(history, config)


def log_returns(recent_prices: np.ndarray, config: EnvConfig) -> np.ndarray:
    """Daily log returns the observation reads: the last ``max(lookback, vol_window)`` rows."""
    need = max(config.lookback, config.vol_window) + 1
    if len(recent_prices) < need:
        raise DataError(f"the observation needs {need} closes, got {len(recent_prices)}")
    return np.diff(np.log(recent_prices[-need:]), axis=0)


def observation(
    rets: np.ndarray,
    weights: np.ndarray,
    drawdown: float,
    menu: np.ndarray,
    config: EnvConfig,
    regime: np.ndarray | None = None,
) -> np.ndarray:
    """Flat float32 observation at a decision close.

    ``rets`` are the daily log returns ending at the decision close (see :func:`log_returns`).
    Layout: scaled log returns of the last ``lookback`` sessions (asset-major), annualised
    rolling volatility, current value weights of the book, drawdown from the episode's peak
    (a positive fraction), the menu weights, then (``regime_features`` only) the filtered
    bull, bear and sideways probabilities of the decision date.
    """
    window = rets[-config.lookback:].T.ravel() * RETURN_SCALE
    recent = rets[-config.vol_window:]
    centred = recent - recent.mean(axis=0)
    vol = np.sqrt((centred * centred).sum(axis=0) / (len(recent) - 1) * 252.0)
    parts = [window, vol, weights, [drawdown], menu.ravel()]
    if config.regime_features:
        if regime is None or len(regime) != N_REGIMES or not np.isfinite(regime).all():
            raise DataError(
                "regime_features is on but the decision date has no regime probabilities "
                f"(got {regime!r}); the detector's first fit needs {config.regime_warmup} "
                "sessions up to the decision"
            )
        parts.append(np.asarray(regime, dtype=float))
    obs = np.concatenate(parts)
    return np.clip(obs, -OBS_CLIP, OBS_CLIP).astype(np.float32)


def _detector(config: EnvConfig) -> DetectorConfig:
    if config.regime_detector is None:  # EnvConfig fills it whenever regime_features is on
        raise DataError("regime features need regime_detector settings")
    return config.regime_detector


def regime_matrix(prices: pd.DataFrame, config: EnvConfig) -> np.ndarray:
    """Filtered regime probabilities for every row of ``prices``, shape (n_rows, 3).

    Rows before the detector's first fit are NaN (no decision may be taken there: see
    ``EnvConfig.history_needed``). One :func:`~autoport.regime.detector.detect` run per panel
    and detector, cached in this process (it takes seconds to a minute).
    """
    from autoport.regime.detector import detect

    det = _detector(config)
    key = (data_mod.content_hash(prices), det.model_dump_json(), config.regime_model)
    cached = _REGIME_CACHE.get(key)
    if cached is None:
        if config.regime_model is not None:
            probs = logged_probabilities(prices, logged_regime_model(config.regime_model))
        else:
            probs = detect(prices, det).probabilities
        cached = probs.reindex(prices.index).to_numpy(dtype=float)
        cached.setflags(write=False)
        if len(_REGIME_CACHE) >= _REGIME_CACHE_LIMIT:
            _REGIME_CACHE.clear()
        _REGIME_CACHE[key] = cached
    return cached


def logged_regime_model(run_id: str):
    """The ``autoport regime`` model of ``run_id`` (loaded once per process)."""
    from autoport.regime.logged import load_logged_model

    model = _LOGGED_MODELS.get(run_id)
    if model is None:
        model = _LOGGED_MODELS[run_id] = load_logged_model(run_id)
    return model


def logged_probabilities(prices: pd.DataFrame, logged) -> pd.DataFrame:
    """The logged model's filtered probabilities over ``prices``; dates up to its training
    end are dropped (the model has seen them, so using them would look ahead)."""
    from autoport.regime.features import build_features

    feats = build_features(prices, **logged.detector.feature_kwargs())
    probs = logged.fit.filter(feats)
    return probs.loc[probs.index > logged.fit.train_end]


class RegimeObservations:
    """``detect``'s filtered probability on the last session of a growing history.

    Calling ``detect`` on every history a backtest hands a strategy would refit the whole grid
    at each decision. This holds one :class:`~autoport.regime.online.OnlineRegimeFilter` (the
    filter behind ``detect``) and hands it each history: only the sessions since the previous
    call are filtered, and a grid point is fitted once.
    """

    def __init__(self, detector: DetectorConfig, regime_model: str | None = None) -> None:
        from autoport.regime.features import FeatureStream
        from autoport.regime.online import OnlineRegimeFilter

        self.detector = detector
        self.regime_model = regime_model  # a logged model is used as is: no grid, no refits
        self._online = OnlineRegimeFilter.from_detector(detector)
        # the features of the history seen, continued over the new sessions (rebuilt when a
        # history does not continue it)
        self._features = FeatureStream(**detector.feature_kwargs())

    @property
    def fitted(self) -> int:
        """HMM fits run (the incremental filter's effect)."""
        return self._online.n_fits

    def at(self, history: pd.DataFrame) -> np.ndarray:
        """(bull, bear, sideways) on ``history.index[-1]``; NaN before the first fit."""
        if self.regime_model is not None:
            logged = logged_regime_model(self.regime_model)
            logged.check_out_of_sample(history.index[-1])
            return logged_probabilities(history, logged).iloc[-1].to_numpy(dtype=float)
        feats = self._features(history)
        if len(feats) <= self.detector.min_train:
            return np.full(N_REGIMES, np.nan)
        return self._online.sync(feats).iloc[-1].to_numpy(dtype=float)
