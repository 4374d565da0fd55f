"""Settings of `autoport stress`: a YAML file (``--config``) merged with the CLI options.

Precedence: the defaults below, then the file, then any option given on the command line.
Unknown keys and bad values are refused with one message naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from autoport import configfile
from autoport.risk.var_backtest import BACKTEST_MODELS, DEFAULT_MODEL, DEFAULT_WINDOW
from autoport.risk.var import SAMPLERS

METHOD_CHOICES = ("parametric", "historical", "monte_carlo", "all")


class StressConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["parametric", "historical", "monte_carlo", "all"] = "all"
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    horizon: int = Field(default=1, ge=1, le=250)  # days
    # estimation sessions before the last date, or "all" the history given
    window: int | Literal["all"] = Field(default=1000)
    backtest_model: str = DEFAULT_MODEL
    backtest_window: int = Field(default=DEFAULT_WINDOW, ge=20)
    paths: int = Field(default=100_000, ge=1000, le=10_000_000)
    seed: int = Field(0, ge=0)
    sampler: str = "antithetic"
    decay: float = Field(default=0.99, gt=0.0, lt=1.0)  # age-weighted historical
    scenarios: Path | None = None  # stress YAML; None = bundled
    alerts: Path | None = None  # alert rules YAML; None = bundled
    concentration_limit: float = Field(default=0.10, gt=0.0, le=1.0)
    risk_budgets: dict[str, float] | None = None  # ticker -> target share of VaR

    @field_validator("window")
    @classmethod
    def _long_enough(cls, v: int | str) -> int | str:
        if v != "all" and v < 30:
            raise ValueError("use at least 30 sessions, or 'all'")
        return v

    @field_validator("backtest_model", "sampler")
    @classmethod
    def _known_choice(cls, v: str, info) -> str:
        choices = BACKTEST_MODELS if info.field_name == "backtest_model" else SAMPLERS
        if v not in choices:
            raise ValueError(f"choose one of {', '.join(choices)}")
        return v


def load_stress_config(path: Path | None, overrides: dict | None = None) -> StressConfig:
    """The file (if any) merged with non-None ``overrides``, validated; one ``ConfigError``."""
    return configfile.load(StressConfig, path, overrides=overrides)
