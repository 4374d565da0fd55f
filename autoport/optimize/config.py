"""YAML configuration for ``autoport optimize``: pydantic models that reject unknown keys.

Two files may be given: ``--config`` (every optimize setting, with an optional ``constraints``
section) and ``--constraints`` (the constraints section alone, as in
``configs/constraints.example.yaml``); the latter replaces the former's section, and CLI options
override both. The models turn into plain constructor arguments: :class:`Constraints` and
keyword arguments of :func:`autoport.optimize.optimize`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import pandas as pd
from autoport import configfile
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from autoport.errors import ConfigError
from autoport.estimators import RETURN_MODELS, RISK_MODELS, View
from autoport.optimize.constraints import CONCENTRATION_WARNING, DEFAULT_MAX_WEIGHT, Constraints

ILLUSTRATIVE_ESG = "esg_scores_ILLUSTRATIVE.csv"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ViewConfig(_Strict):
    long: str
    value: float
    short: str | None = None
    confidence: float = Field(0.5, gt=0, le=1)


class ConstraintsConfig(_Strict):
    """Every key optional; fractions of the budget. See configs/constraints.example.yaml."""

    long_only: bool = True
    lower: float | dict[str, float] | None = None
    upper: float | dict[str, float] | None = None
    max_position: float | None = Field(None, gt=0, le=1e6)
    sectors: str | None = None  # "bundled" or a CSV path with columns ticker,sector
    sector_min: dict[str, float] = Field(default_factory=dict)
    sector_max: dict[str, float] = Field(default_factory=dict)
    exclude: list[str] = Field(default_factory=list)
    esg_scores: str | None = None  # "illustrative" or a CSV path with columns ticker,esg_score
    min_esg: float | None = None
    current_weights: dict[str, float] | None = None
    max_turnover: float | None = Field(None, ge=0)
    transaction_cost: float | dict[str, float] = 0.0
    max_leverage: float | None = Field(None, gt=0)
    cash: bool = False
    concentration_warning: float = Field(CONCENTRATION_WARNING, gt=0, le=1)

    @field_validator("sector_min", "sector_max")
    @classmethod
    def _fractions(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not 0 <= v <= 1}
        if bad:
            raise ValueError(f"sector limits must be fractions in [0, 1], got {bad}")
        return value


class OptimizeConfig(_Strict):
    objective: str = "max_sharpe"
    # cap per asset when long-only and the constraints set no upper bound (not risk_parity)
    max_weight: float = Field(DEFAULT_MAX_WEIGHT, gt=0, le=1)
    returns_model: Literal[RETURN_MODELS] = "mean"  # type: ignore[valid-type]
    risk_model: Literal[RISK_MODELS] = "ledoit_wolf"  # type: ignore[valid-type]
    window: int | Literal["all"] = 756
    as_of: str | None = None
    risk_free_rate: float = 0.0
    frontier_points: int = Field(100, ge=0, le=1000)
    target_return: float | None = None
    target_volatility: float | None = Field(None, gt=0)
    risk_tolerance: float | None = Field(None, ge=0, le=1)
    risk_aversion: float | None = Field(None, gt=0)
    beta: float = Field(0.95, ge=0.5, lt=1)
    max_drawdown: float | None = Field(None, gt=0)
    kelly_fraction: float = Field(1.0, gt=0, le=1)
    objective_weights: dict[str, float] | None = None
    risk_budget: dict[str, float] | None = None
    pareto: list[str] | None = None  # two of return, variance, cvar, cdar
    pareto_points: int = Field(20, ge=2, le=1000)
    risk_budget_by: Literal["asset", "sector"] = "asset"
    views: list[ViewConfig] = Field(default_factory=list)
    market_caps: dict[str, float] | None = None
    constraints: ConstraintsConfig = Field(default_factory=ConstraintsConfig)

    @field_validator("risk_free_rate")
    @classmethod
    def _rate_is_a_fraction(cls, value: float) -> float:
        if not -0.5 <= value <= 0.5:
            raise ValueError(
                f"{value} is not an annual rate as a fraction; pass 0.03 for 3 %"
            )
        return value


def _read_yaml(path: Path) -> dict:
    return configfile.read_mapping(path)[0]


def load_constraints_file(path: Path) -> ConstraintsConfig:
    """A constraints YAML file, validated; one message for any bad key or value.

    Parameters
    ----------
    path
        The file (``configs/constraints.example.yaml`` shows every key).
    """
    raw = _read_yaml(path)
    try:
        return ConstraintsConfig.model_validate(raw)
    except ValidationError as exc:
        raise configfile.invalid(f"constraints file {path}", exc) from None


def load_config(path: Path | None, constraints_path: Path | None = None,
                overrides: dict | None = None) -> OptimizeConfig:
    """Merge: file config, then the constraints file, then non-None CLI ``overrides``.

    Parameters
    ----------
    path
        A YAML file of :class:`OptimizeConfig` keys; None: the defaults.
    constraints_path
        A constraints YAML file; it replaces the config's ``constraints``.
    overrides
        Values given as options, applied last (None values ignored).
    """
    raw: dict = _read_yaml(path) if path is not None else {}
    if constraints_path is not None:
        raw["constraints"] = load_constraints_file(constraints_path).model_dump(
            exclude_unset=True
        )
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return configfile.validate(OptimizeConfig, raw, str(path or "options"), overrides)


def read_mapping_csv(source: str, value_column: str, bundled: dict[str, str]) -> pd.Series:
    """A ticker → value column from a bundled name or a CSV path (``#`` lines are comments).

    Parameters
    ----------
    source
        A bundled name (a key of ``bundled``) or a CSV path with a ``ticker`` column.
    value_column
        The column holding the values (``sector``, ``esg``).
    bundled
        Bundled name → file of the package data.
    """
    if source in bundled:
        with resources.files("autoport.datasets").joinpath(bundled[source]).open("r") as fh:
            frame = pd.read_csv(fh, comment="#")
    else:
        path = Path(source)
        if not path.exists():
            raise ConfigError(
                f"{value_column} file {path} does not exist; use "
                f"{' or '.join(repr(b) for b in bundled)} or an existing CSV"
            )
        frame = pd.read_csv(path, comment="#")
    if "ticker" not in frame.columns or value_column not in frame.columns:
        raise ConfigError(
            f"{source} needs columns ticker,{value_column}; found {', '.join(frame.columns)}"
        )
    return frame.set_index("ticker")[value_column]


def capped(cfg: OptimizeConfig, n_assets: int) -> tuple[ConstraintsConfig, str | None]:
    """The constraints with ``max_weight`` as the upper bound where none is set, and a note.

    Applies to long-only objectives other than risk parity (uncapped by design) when the
    constraints give no ``upper``; fewer assets than ``1 / max_weight`` raise it to ``1/n``.

    Parameters
    ----------
    cfg
        The optimizer's settings (``objective``, ``max_weight``, ``constraints``).
    n_assets
        Number of assets N.
    """
    cons = cfg.constraints
    if (cfg.max_weight >= 1.0 or not cons.long_only or cons.upper is not None
            or cfg.objective in ("risk_parity", "risk_budgeting", "erc")):
        return cons, None
    cap = max(cfg.max_weight, 1.0 / n_assets)
    note = (f"each weight capped at {cap:.0%} (--max-weight {cfg.max_weight:g}"
            + (f", raised to 1/{n_assets}" if cap > cfg.max_weight else "")
            + "; --max-weight 1 for none)")
    return cons.model_copy(update={"upper": cap}), note


def to_constraints(cfg: ConstraintsConfig, tickers: list[str],
                   sector_map: dict[str, str] | None = None) -> Constraints:
    """Plain :class:`Constraints` for ``tickers`` (reads the sector / ESG files it names).

    Parameters
    ----------
    cfg
        The constraints' settings.
    tickers
        The assets, in the order of ``mu`` and ``cov``.
    sector_map
        Sector of each ticker for sector limits naming no file; None: the bundled map.
    """
    groups = None
    if cfg.sectors is not None:
        if cfg.sectors == "bundled":
            from autoport.data import sector_map as bundled_sectors

            groups = bundled_sectors()
        else:
            groups = read_mapping_csv(cfg.sectors, "sector", {}).astype(str).to_dict()
    elif cfg.sector_min or cfg.sector_max:
        groups = sector_map
        if groups is None:
            from autoport.data import sector_map as bundled_sectors

            groups = bundled_sectors()
    esg = None
    if cfg.esg_scores is not None:
        esg = read_mapping_csv(
            cfg.esg_scores, "esg_score", {"illustrative": ILLUSTRATIVE_ESG}
        ).astype(float).to_dict()
    elif cfg.min_esg is not None:
        raise ConfigError("min_esg needs esg_scores: 'illustrative' or a CSV path")
    lower = _bound(cfg.lower, tickers, 0.0 if cfg.long_only else None, "lower")
    upper = _bound(cfg.upper, tickers, 1.0 if cfg.long_only else None, "upper")
    return Constraints(
        lower=lower,
        upper=upper,
        max_position=cfg.max_position,
        groups=groups,
        group_min=cfg.sector_min,
        group_max=cfg.sector_max,
        exclude=tuple(cfg.exclude),
        esg_scores=esg,
        min_esg=cfg.min_esg,
        current_weights=cfg.current_weights,
        max_turnover=cfg.max_turnover,
        transaction_cost=cfg.transaction_cost,
        max_leverage=cfg.max_leverage,
        concentration_warning=cfg.concentration_warning,
    )


def _bound(value, tickers: list[str], default: float | None, what: str):
    if value is None:
        return default
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(tickers))
        if unknown:
            raise ConfigError(f"{what} bounds name unknown ticker(s) {', '.join(unknown)}")
        return {t: value.get(t, default) for t in tickers}
    return value


def views(cfg: OptimizeConfig) -> list[View]:
    """The config's Black-Litterman views as :class:`~autoport.estimators.View` objects.

    Parameters
    ----------
    cfg
        The optimizer's settings (``views``).
    """
    return [View(v.long, v.value, v.short, v.confidence) for v in cfg.views]
