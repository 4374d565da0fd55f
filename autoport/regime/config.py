"""``configs/regime.yaml``: detector, strategy and reference-dating settings (pydantic edge)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from autoport import configfile
from autoport.optimize.constraints import DEFAULT_MAX_WEIGHT

from autoport.errors import ConfigError


class DetectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    use: str | None = Field(None, description="a name from `candidates:` (its settings apply, "
                            "then any other key given here)")
    model: Literal["hmm", "jump"] = "hmm"
    n_states: Literal[2, 3] = 3
    returns: Literal["assets", "market", "features"] = "market"
    horizons: tuple[int, ...] = (5, 21, 63)
    jump_penalty: float = Field(50.0, ge=0)
    realized_vol: bool = False
    vol_window: int = Field(10, ge=2)
    min_train: int = Field(756, ge=60)
    refit_every: int = Field(252, ge=1)
    train_window: int | None = Field(None, ge=60)
    n_restarts: int = Field(5, ge=1)
    refit_restarts: int = Field(0, ge=0)
    seed: int = 0
    n_iter: int = Field(200, ge=1)
    tol: float = Field(1e-2, gt=0)
    covariance_type: Literal["full", "diag"] = "full"
    transmat_prior: float = Field(1.0, ge=1.0)
    split_start: bool = Field(True, description="HMM: add the split start to every fit (finds a "
                              "rare volatile regime; 3-3.6x the fitting time on the bundled data)")

    @model_validator(mode="after")
    def _window(self) -> DetectorConfig:
        if self.train_window is not None and self.train_window < self.min_train:
            raise ValueError(f"train_window {self.train_window} is below min_train "
                             f"{self.min_train}; raise it or set it to null (expanding)")
        return self

    @field_validator("horizons")
    @classmethod
    def _horizons(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or min(value) < 1:
            raise ValueError("horizons must be one or more positive session counts")
        return value

    def feature_kwargs(self) -> dict:
        return {"returns": self.returns, "realized_vol": self.realized_vol,
                "vol_window": self.vol_window, "horizons": self.horizons}

    @property
    def warmup(self) -> int:
        """Price sessions before the first feature row (plus one to spare)."""
        lost = self.vol_window if self.realized_vol else 1
        return lost + (max(self.horizons) if self.returns == "features" else 0) + 1

    def fit_kwargs(self) -> dict:
        return {"n_restarts": self.n_restarts, "seed": self.seed, "n_iter": self.n_iter,
                "tol": self.tol, "covariance_type": self.covariance_type,
                "transmat_prior": self.transmat_prior, "split_start": self.split_start}


class RegimePolicy(BaseModel):
    """What the strategy holds in one regime."""

    model_config = ConfigDict(extra="forbid")

    objective: str = Field(description="any optimizer objective: max_sharpe, min_volatility, "
                           "min_cvar, min_cdar, risk_parity, ...")
    max_weight: float = Field(DEFAULT_MAX_WEIGHT, gt=0, le=1,
                              description="cap per asset (not for risk_parity)")
    window: int = Field(252, ge=20)
    cash: float = Field(0.0, ge=0, lt=1, description="share held in cash (a defensive sleeve)")

    @field_validator("objective")
    @classmethod
    def _known_objective(cls, value: str) -> str:
        from autoport.optimize.objective_names import Objective

        try:
            Objective.parse(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    def solve_arguments(self, n_assets: int) -> dict:
        """Arguments for ``portfolio.solve``: risk parity is long-only and uncapped by design.

        Parameters
        ----------
        n_assets
            Number of assets N the policy's objective is solved over.
        """
        cap = 1.0 if self.objective == "risk_parity" else max(self.max_weight, 1.0 / n_assets)
        return {"objective": self.objective, "max_weight": cap}


class StrategyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refit_every: int = Field(252, ge=1)
    threshold: float = Field(0.7, gt=0, le=1)
    hold_days: int = Field(5, ge=1)
    min_hold: int = Field(21, ge=0)
    cost_bps: float = Field(10.0, ge=0)
    risk_aversion: float = Field(2.0, gt=0, description="λ of the switch gain's utility")
    min_gain_to_cost: float = Field(
        1.0, ge=0, description="switch only when expected gain ≥ this × cost (0: always)"
    )
    regimes: dict[Literal["bull", "bear", "sideways"], RegimePolicy]

    @model_validator(mode="after")
    def _all_regimes(self) -> StrategyConfig:
        missing = {"bull", "bear", "sideways"} - set(self.regimes)
        if missing:
            raise ValueError(f"strategy.regimes lacks {', '.join(sorted(missing))}; "
                             "give an objective for bull, bear and sideways")
        return self


class ReferenceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decline: float = Field(0.20, gt=0, lt=1)
    recovery: float = Field(0.20, gt=0)


class RegimeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    detector: DetectorConfig
    strategy: StrategyConfig
    reference: ReferenceConfig = ReferenceConfig()
    candidates: dict[str, dict] = Field(
        default_factory=dict, description="named detector settings `detector.use` picks from")

    @model_validator(mode="before")
    @classmethod
    def _use_candidate(cls, raw):
        """``detector.use: NAME`` = the candidate's settings, overridden by the detector's own."""
        if not isinstance(raw, dict) or not isinstance(raw.get("detector"), dict):
            return raw
        det, cands = raw["detector"], raw.get("candidates") or {}
        name = det.get("use")
        if name is None:
            return raw
        if name not in cands:
            raise ValueError(f"detector.use {name!r} is not in candidates "
                             f"({', '.join(sorted(cands)) or 'none given'})")
        cand = {k: v for k, v in cands[name].items() if k != "use"}
        return {**raw, "detector": {**cand, **det}}

    @field_validator("candidates")
    @classmethod
    def _valid_candidates(cls, value: dict) -> dict:
        for name, settings in value.items():
            try:
                DetectorConfig.model_validate(settings)
            except ValidationError as exc:
                parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
                raise ValueError(f"candidate {name}: {'; '.join(parts)}") from None
        return value

    def detector_with(self, overrides: dict) -> DetectorConfig:
        """The detector with ``overrides`` (a ``use`` among them starts from that candidate);
        raises pydantic's ValidationError on a bad setting, for the caller to word.

        Parameters
        ----------
        overrides
            Detector keys to change (``use`` picks a candidate first).
        """
        base = self.detector.model_dump()
        name = overrides.get("use")
        if name is not None and name != self.detector.use:
            base = self.candidate(name).model_dump()
        return DetectorConfig.model_validate({**base, **overrides})

    def candidate(self, name: str) -> DetectorConfig:
        """The detector settings with ``use: name`` (the shared keys of ``detector`` kept).

        Parameters
        ----------
        name
            A candidate of ``detector.candidates`` (for example ``hmm_market_3``).
        """
        if name not in self.candidates:
            raise ConfigError(f"no detector candidate {name!r}; use one of "
                              f"{', '.join(sorted(self.candidates))}")
        shared = {k: v for k, v in self.detector.model_dump().items()
                  if k in SHARED_KEYS}
        return DetectorConfig.model_validate({**shared, **self.candidates[name], "use": name})


# detector keys a candidate leaves to `detector:` (the refit grid and the seeds)
SHARED_KEYS = ("min_train", "refit_every", "train_window", "n_restarts", "refit_restarts", "seed",
               "n_iter", "tol")


def _bundled_mapping() -> dict:
    text = resources.files("autoport.configs").joinpath("regime.yaml").read_text()
    return configfile.parse_mapping(text, "bundled regime.yaml")


def _merge(base: dict, over: dict) -> dict:
    """``over`` on ``base``, mappings merged key by key (a partial file keeps the rest)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_config(text: str, source: str = "regime.yaml", *, merge: bool = False) -> RegimeConfig:
    """Validate a regime YAML; ``merge`` lays it over the bundled file (a partial file).

    Parameters
    ----------
    text
        The YAML text.
    source
        How messages name the file.
    merge
        Lay the file over the bundled one (keys it leaves out keep the bundled values).
    """
    raw = configfile.parse_mapping(text, source)
    if merge:
        raw = _merge(_bundled_mapping(), raw)
    try:
        return RegimeConfig.model_validate(raw)
    except ValidationError as exc:
        raise configfile.invalid(source, exc) from None


def load_config(path: str | Path | dict | None = None) -> RegimeConfig:
    """The bundled ``configs/regime.yaml``, the user's file (possibly partial) over it, or a
    mapping of overrides merged key by key into the bundled file (what a sweep searches, e.g.
    ``{"strategy": {"threshold": 0.8}}``).

    Parameters
    ----------
    path
        A YAML file, a mapping of overrides, or None for the bundled file.
    """
    if isinstance(path, dict):
        merged = _merge(load_config().model_dump(), path)
        try:
            return RegimeConfig.model_validate(merged)
        except ValidationError as exc:
            raise configfile.invalid("regime settings (overrides of regime.yaml)", exc) from None
    if path is None:
        text = resources.files("autoport.configs").joinpath("regime.yaml").read_text()
        return parse_config(text, "bundled regime.yaml")
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"regime config {p} does not exist; pass an existing YAML file")
    return parse_config(configfile.read_text(p), str(p), merge=True)
