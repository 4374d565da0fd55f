"""The regime detector and regime map the autopilot shares with ``--strategy regime``.

Detector: configs/regime.yaml's ``detector`` (features, training window, restarts, seed) run
through the online regime filter every consumer uses
(:class:`autoport.regime.online.OnlineRegimeFilter`, with the regime strategy's
``refit_every``), and the same hysteresis (:func:`autoport.regime.hysteresis.hysteresis`:
``threshold`` on ``hold_days`` sessions, ``min_hold`` between switches) over its online
probabilities. So the regime the autopilot acts on is the regime strategy's, and on the same
settings ``autoport regime`` reports the same probabilities.

Each decision only adds the sessions since the previous one: the filter keeps its fits and
continues the forward recursion. Nothing here looks past the last row of the history it is
handed.

Map: configs/regime.yaml's ``strategy.regimes`` (objective, cap per asset, estimation window,
cash share per regime), with the user's changes (``regime.policies``, ``regime.objectives``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import ValidationError

from autoport.errors import ConfigError
from autoport.regime.config import DetectorConfig, RegimeConfig, load_config
from autoport.regime.features import FeatureStream
from autoport.regime.hmm import REGIMES
from autoport.regime.hysteresis import Hysteresis
from autoport.regime.online import OnlineRegimeFilter

FALLBACK_MAP = {
    "bull": {"objective": "max_sharpe", "max_weight": 0.25, "window": 252, "cash": 0.0},
    "sideways": {"objective": "min_volatility", "max_weight": 0.25, "window": 252, "cash": 0.0},
    "bear": {"objective": "min_volatility", "max_weight": 0.25, "window": 252, "cash": 0.0},
}


@dataclass(frozen=True)
class Policy:
    """What the normal target is in one regime, and where each part came from."""

    regime: str | None
    objective: str
    max_weight: float | None  # the map's cap per asset (None: no cap from the map)
    window: int
    cash: float
    source: dict  # field -> "configs/regime.yaml" | "your settings" | "default"


def _regime_config() -> RegimeConfig | None:
    try:
        return load_config()
    except FileNotFoundError:  # no bundled regime.yaml: the defaults above; a bad one raises
        return None


_READ = object()  # read configs/regime.yaml (a caller that has read it passes what it got)


def regime_map(settings, cfg: RegimeConfig | None | object = _READ) -> dict[str, Policy]:
    """regime -> :class:`Policy` from configs/regime.yaml with the user's changes on top
    (``settings``: the autopilot's ``RegimeSettings``; ``cfg``: the file as read already)."""
    if cfg is _READ:
        cfg = _regime_config()
    out = {}
    for name in REGIMES:
        if cfg is not None:
            pol = cfg.strategy.regimes[name]
            base = {"objective": pol.objective, "window": pol.window, "cash": pol.cash,
                    # risk parity is uncapped by design in the map (RegimePolicy.solve_arguments)
                    "max_weight": None if pol.objective == "risk_parity" else pol.max_weight}
            origin = "configs/regime.yaml"
        else:
            base, origin = dict(FALLBACK_MAP[name]), "default"
        source = dict.fromkeys(base, origin)
        mine = {}
        if settings.objectives and name in settings.objectives:
            mine["objective"] = settings.objectives[name]
        if settings.policies and name in settings.policies:
            mine.update(settings.policies[name].model_dump(exclude_none=True))
        for key, value in mine.items():
            base[key], source[key] = value, "your settings"
        if base["objective"] == "risk_parity" and "max_weight" not in mine:
            base["max_weight"] = None
        out[name] = Policy(name, base["objective"], base["max_weight"], int(base["window"]),
                           float(base["cash"]), source)
    return out


@dataclass(frozen=True)
class RegimeView:
    """The regime at a decision: filtered probabilities, the regime acted on, their recent
    daily paths (for the override's streaks) and the fit that made them."""

    probabilities: dict  # today's filtered probabilities
    raw: str  # argmax of today's filtered probabilities
    confidence: float
    acted: str  # after hysteresis
    path: pd.DataFrame  # daily online filtered probabilities since the first fit
    acted_path: pd.Series
    fit_end: pd.Timestamp
    n_train: int


class AutopilotRegimes:
    """Online regimes from histories handed in one decision at a time (see the module doc)."""

    def __init__(self, settings, cfg: RegimeConfig | None | object = _READ) -> None:
        if cfg is _READ:
            cfg = _regime_config()
        try:
            self.detector = (cfg.detector_with(settings.detector or {}) if cfg is not None
                             else DetectorConfig.model_validate(settings.detector or {}))
        except ValidationError as exc:
            parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            raise ConfigError(f"autopilot regime.detector: {'; '.join(parts)}") from None
        strat = cfg.strategy if cfg is not None else None
        pick = (lambda mine, key, default:
                mine if mine is not None else getattr(strat, key) if strat else default)
        self.refit_every = pick(settings.refit_every, "refit_every", 252)
        self.threshold = pick(settings.threshold, "threshold", 0.7)
        self.hold_days = pick(settings.hold_days, "hold_days", 5)
        self.min_hold = pick(settings.min_hold, "min_hold", 21)
        warmup = self.detector.warmup
        self.min_history = self.detector.min_train + warmup
        self._online = OnlineRegimeFilter.from_detector(self.detector, self.refit_every)
        # the features and the hysteresis walk continue from the history seen (each checks
        # the history continues it, else starts afresh); copies share what they have built
        self._features = FeatureStream(**self.detector.feature_kwargs())
        self._walk = Hysteresis(threshold=self.threshold, hold_days=self.hold_days,
                                min_hold=self.min_hold)

    @property
    def fits(self) -> int:
        """HMM fits run so far (one per grid point reached)."""
        return self._online.n_fits

    def reset(self) -> None:
        """Start afresh: forget the rows, fits and probabilities of earlier histories."""
        self._online.reset()
        self._features.reset()

    def describe(self) -> dict:
        return {**self.detector.model_dump(), "refit_every": self.refit_every,
                "threshold": self.threshold, "hold_days": self.hold_days,
                "min_hold": self.min_hold}

    def view(self, history: pd.DataFrame) -> RegimeView | None:
        """The regime at ``history``'s last date, or None before the first fit."""
        if len(history) < self.min_history:
            return None
        feats = self._features(history)
        if len(feats) <= self.detector.min_train:
            return None
        probs = self._online.sync(feats)
        fit = self._online.last_fit
        acted = self._walk(probs)
        # today's row on the array: idxmax's first maximum and max (pandas' own on a row
        # with a NaN, which they skip)
        today = probs.to_numpy(dtype=float)[-1]
        names = probs.columns
        if np.isnan(today).any():
            row = probs.iloc[-1]
            raw, top = str(row.idxmax()), float(row.max())
        else:
            at = int(np.argmax(today))
            raw, top = str(names[at]), float(today[at])
        return RegimeView(
            probabilities={k: float(v) for k, v in zip(names, today.tolist(), strict=True)},
            raw=raw, confidence=top, acted=str(acted.iloc[-1]),
            path=probs, acted_path=acted, fit_end=fit.train_end, n_train=fit.n_train)
