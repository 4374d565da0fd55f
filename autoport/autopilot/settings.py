"""The user's settings for the autonomous manager: one validated pydantic model.

The engine's capital, costs and order sizing (lots, minimum trade value, cash buffer) are not
settings of the autopilot: the backtest config states them and the engine's book carries them.

Units: weights and limits are fractions of the portfolio; ``var_limit`` and
``max_drawdown_limit`` are *returns* (negative numbers are losses, as everywhere in autoport):
``var_limit = -0.03`` means "the one-day VaR at ``var_confidence`` must not be a loss worse
than 3 %". Tax rates are fractions of the realised gain. Durations are in sessions unless the
name says years or days.

Defaults that are left as ``None`` come from the mission's alert rules
(``configs/alerts.yaml``): the drawdown rule's ``limit``/``rearm`` and the concentration
rule's ``max_weight`` limit, so the alerts and the override speak the same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from autoport import configfile
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from autoport.errors import ConfigError

REGIMES = ("bull", "bear", "sideways")
CALENDARS = ("never", "every_day", "monthly", "quarterly", "annually")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EsgSettings(_Strict):
    """Minimum portfolio-average ESG score; ``scores`` default to the bundled illustrative file."""

    min_score: float = Field(50.0, ge=0, le=100)
    scores: dict[str, float] | None = None
    exclude_below: float | None = Field(None, ge=0, le=100, description="drop assets under it")


class TaxSettings(_Strict):
    short_term_rate: float = Field(0.37, ge=0, le=1, description="gains held <= 365 days")
    long_term_rate: float = Field(0.20, ge=0, le=1, description="gains held > 365 days")
    harvest_threshold: float = Field(
        0.05, gt=0, lt=1, description="harvest a lot whose loss exceeds this fraction of basis"
    )
    wash_days: int = Field(30, ge=0, le=90)
    min_harvest_value: float = Field(1_000.0, ge=0, description="skip harvests below (currency)")
    substitutes: dict[str, str] = Field(
        default_factory=dict,
        description="ticker -> correlated substitute; empty: the most correlated other asset",
    )
    lot_method: Literal["hifo", "fifo"] = "hifo"


class RegimePolicySettings(_Strict):
    """One regime's entry of the regime-switching map (configs/regime.yaml ``strategy.regimes``):
    objective, cap per asset, estimation window, cash share. Unset fields keep the map's."""

    objective: str | None = None
    max_weight: float | None = Field(None, gt=0, le=1)
    window: int | None = Field(None, ge=20)
    cash: float | None = Field(None, ge=0, lt=1)


class RegimeSettings(_Strict):
    """The regime detector and map the autopilot shares with ``autoport regime`` and
    ``--strategy regime`` (configs/regime.yaml); every field left null is taken from there."""

    enabled: bool = True
    detector: dict[str, Any] | None = Field(
        None, description="overrides of configs/regime.yaml's detector keys (validated as "
        "they are there); None: that detector as is")
    refit_every: int | None = Field(
        None, ge=1, description="sessions between refits (a fixed grid from min_train); "
        "None: configs/regime.yaml's strategy.refit_every")
    threshold: float | None = Field(None, gt=0, le=1, description="hysteresis: a switch "
                                    "needs this filtered probability ... None: regime.yaml")
    hold_days: int | None = Field(None, ge=1, description="... on this many consecutive "
                                  "sessions ... None: regime.yaml")
    min_hold: int | None = Field(None, ge=0, description="... and this many sessions since "
                                 "the last switch. None: regime.yaml")
    objectives: dict[str, str] | None = Field(
        None,
        description="regime -> optimizer objective (shorthand for policies.<regime>.objective)",
    )
    policies: dict[str, RegimePolicySettings] | None = Field(
        None, description="regime -> changes to configs/regime.yaml's map entry")
    tolerance_scale: dict[str, float] = Field(
        default_factory=lambda: {"bull": 1.0, "sideways": 0.8, "bear": 0.5},
        description="regime -> multiplier on risk_tolerance",
    )

    @model_validator(mode="after")
    def _known_regimes(self) -> RegimeSettings:
        for what, mapping in (("objectives", self.objectives or {}),
                              ("policies", self.policies or {}),
                              ("tolerance_scale", self.tolerance_scale)):
            unknown = sorted(set(mapping) - set(REGIMES))
            if unknown:
                raise ValueError(f"{what} names unknown regime(s) {unknown}; use {REGIMES}")
        return self


class OverrideSettings(_Strict):
    """When the defensive allocation takes over, and when it hands back (hysteresis).

    Enter when one reason (VaR breach, drawdown past its limit, bear regime) has held on each
    of the last ``enter_sessions`` sessions; restore when every restore condition has held on
    each of the last ``restore_sessions`` sessions and at least ``min_defensive_sessions``
    have passed since entry.
    """

    enabled: bool = True
    bear_signal: Literal["acted", "filtered"] = Field(
        "filtered", description="acted: the regime after configs/regime.yaml's hysteresis (the "
        "one the regime map acts on); filtered: the raw filtered probability vs bear_confidence")
    bear_confidence: float = Field(0.90, gt=0.5, le=1.0,
                                   description="bear_signal filtered: enter at this")
    restore_bear_confidence: float = Field(0.60, gt=0, le=1.0,
                                           description="bear_signal filtered: leave below this")
    enter_sessions: int = Field(1, ge=1, description="an entry reason must hold this long")
    restore_sessions: int = Field(1, ge=1, description="restore conditions must hold this long")
    restore_var_ratio: float = Field(
        0.8, gt=0, le=1, description="leave only when the normal target's VaR is within "
        "this fraction of var_limit"
    )
    restore_drawdown: float | None = Field(
        None, lt=0, description="leave only when the drawdown since entry is above this; "
        "None: the alert rule's rearm level"
    )
    min_defensive_sessions: int = Field(21, ge=0)
    defensive_objective: str = "min_variance"
    defensive_cash: float = Field(0.5, ge=0, lt=1, description="share held in cash")


class AutopilotSettings(_Strict):
    """Everything a user states about how the autopilot manages the portfolio."""

    risk_tolerance: float = Field(0.5, ge=0, le=1)
    investment_horizon: float = Field(10.0, gt=0, le=100, description="years")
    rebalance_threshold: float = Field(
        0.05, gt=0, lt=1, description="trade when any weight is this far off target"
    )
    total_drift_threshold: float | None = Field(
        0.20, gt=0, le=2, description="or when sum |w - target| / 2 reaches this"
    )
    calendar: Literal["never", "every_day", "monthly", "quarterly", "annually"] = Field(
        "quarterly", description="calendar review; every_day reviews at every decision "
        "session (pair it with the backtest's rebalance: every_day)")
    window: int = Field(252, ge=60, description="estimation sessions for mu, Sigma and VaR")
    tax_optimization: bool = False
    esg_constraints: bool | EsgSettings = False
    max_position: float | None = Field(None, gt=0, le=1, description="None: alert rule's limit")
    max_sector: float | None = Field(0.40, gt=0, le=1)
    sector_limits: dict[str, float] = Field(default_factory=dict)
    sectors: dict[str, str] | None = Field(None, description="ticker -> sector; None: bundled")
    max_leverage: float = Field(1.0, gt=0, le=1.0)
    max_drawdown_limit: float | None = Field(None, lt=0, gt=-1, description="None: alert rule")
    var_limit: float = Field(-0.03, lt=0, gt=-1, description="one-day VaR (a return)")
    var_confidence: float | None = Field(None, gt=0.5, lt=1, description="None: alert rule")
    tax: TaxSettings = TaxSettings()
    regime: RegimeSettings = RegimeSettings()
    override: OverrideSettings = OverrideSettings()
    benchmark: Literal["equal_weight"] | dict[str, float] = "equal_weight"
    benefit_horizon: int = Field(
        63, ge=1, description="sessions over which a rebalance's expected benefit accrues"
    )
    alerts: str | None = Field(None, description="alert rules YAML; None: bundled")
    dqn_model_uri: str | None = Field(
        None, description="optional promoted DQN policy (models:/NAME@alias or runs:/ID/model) "
        "whose weights replace the optimizer's normal target"
    )

    @model_validator(mode="after")
    def _sector_limits(self) -> AutopilotSettings:
        bad = {k: v for k, v in self.sector_limits.items() if not 0 < v <= 1}
        if bad:
            raise ValueError(f"sector_limits must lie in (0, 1]; got {bad}")
        return self


def load_settings(
    source: str | Path | dict[str, Any] | AutopilotSettings | None,
) -> AutopilotSettings:
    """Settings from a YAML path, a mapping, or defaults; one ``ConfigError`` for any problem."""
    if source is None:
        return AutopilotSettings()
    if isinstance(source, AutopilotSettings):
        return source
    raw: Any = source
    where = "autopilot settings"
    if isinstance(source, (str, Path)):
        path = Path(source)
        where = str(path)
        raw, _ = configfile.read_mapping(path)
        if isinstance(raw, dict) and "settings" in raw and len(raw) == 1:
            raw = raw["settings"]
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping of settings, got {type(raw).__name__}")
    try:
        return AutopilotSettings.model_validate(raw)
    except ValidationError as exc:
        raise configfile.invalid(where, exc) from None


def merged_settings(source: Any = None, **fields: Any) -> AutopilotSettings:
    """Settings from ``source`` (as :func:`load_settings` takes it) with top-level ``fields``
    on top (``Autopilot(settings="configs/autopilot.yaml", risk_tolerance=0.3)``)."""
    if not fields:
        return load_settings(source)
    base = source if isinstance(source, dict) else {}
    if source is not None and not isinstance(source, dict):
        base = load_settings(source).model_dump()
    return load_settings({**base, **fields})
