"""Settings of the portfolio environment; validated once, at the config edge."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from autoport.engines.costs import CostModel
from autoport.regime.config import DetectorConfig

ACTION_NAMES = (
    "equal_weight", "min_variance", "max_sharpe", "risk_parity", "inverse_vol",
    "momentum_tilt", "low_vol_tilt", "defensive",
)
REWARDS = ("log_return", "drawdown_penalty", "differential_sharpe")


class EnvConfig(BaseModel):
    """Everything that decides the environment's numbers (saved with every trained model)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lookback: int = Field(20, ge=2, le=252, description="sessions of log returns observed")
    vol_window: int = Field(20, ge=2, le=252, description="sessions of the rolling volatility")
    estimation_window: int = Field(
        252, ge=20, le=2520, description="sessions behind the optimised menu portfolios"
    )
    rebalance_every: int = Field(21, ge=1, le=252, description="sessions between decisions")
    schedule: Literal["every_k", "month_start"] = Field(
        "month_start", description="every_k: every rebalance_every sessions; month_start: on the "
        "first session of each month, as `autoport backtest` rebalances"
    )
    episode_length: int = Field(252, ge=2, description="sessions per training episode")
    train_starts: Literal["any_session", "schedule"] = Field(
        "any_session", description="any_session: a training episode may start (take its first "
        "decision) on any session with enough history before it and room for the episode "
        "after it; schedule: only on the decision schedule's days (month starts, or a grid of "
        "every rebalance_every sessions). Later decisions follow the schedule either way"
    )
    max_weight: float = Field(0.25, gt=0, le=1, description="cap per asset in optimised items")
    momentum_window: int = Field(126, ge=2, le=1260)
    defensive_cash: float = Field(
        0.5, ge=0, le=1, description="cash share of the defensive item (rest: min variance)"
    )
    actions: tuple[str, ...] = ACTION_NAMES
    reward: Literal["log_return", "drawdown_penalty", "differential_sharpe"] = (
        "differential_sharpe"
    )
    drawdown_penalty: float = Field(0.0, ge=0, description="per unit of new drawdown")
    excess_over_equal_weight: bool = Field(
        True, description="subtract the 1/N book's log return over the same step"
    )
    dsr_eta: float = Field(1 / 63, gt=0, lt=1, description="differential Sharpe decay")
    reward_scale: float = Field(100.0, gt=0)
    costs: CostModel = CostModel()
    regime_features: bool = Field(
        False, description="append the filtered bull/bear/sideways probabilities of the "
        "decision date (online HMM, no look-ahead) to the observation"
    )
    regime_detector: DetectorConfig | None = Field(
        None, description="detector settings behind the regime features; filled from the "
        "bundled configs/regime.yaml when regime_features is on and none is given, so a saved "
        "model keeps the settings it was trained with"
    )

    regime_model: str | None = Field(
        None, description="MLflow run id of an `autoport regime` run: its fitted model filters "
        "the features as is (no refits); sessions up to its training end are not used"
    )

    @model_validator(mode="after")
    def _model_needs_features(self) -> EnvConfig:
        if self.regime_model is not None and not self.regime_features:
            raise ValueError("regime_model needs regime_features: true (the probabilities are "
                             "what the logged model contributes)")
        return self

    @model_validator(mode="before")
    @classmethod
    def _resolve_detector(cls, data):
        if isinstance(data, dict) and data.get("regime_features") and (
            data.get("regime_detector") is None
        ):
            from autoport.regime.config import load_config

            data = {**data, "regime_detector": load_config().detector}
        return data

    @field_validator("actions")
    @classmethod
    def _known_actions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [a for a in value if a not in ACTION_NAMES]
        if unknown:
            raise ValueError(f"unknown action(s) {unknown}; choose from {list(ACTION_NAMES)}")
        if len(value) < 2 or len(set(value)) != len(value):
            raise ValueError("actions need at least two distinct menu items")
        return tuple(value)

    @property
    def regime_warmup(self) -> int:
        """Sessions up to and including the first decision date with regime probabilities
        (0 without regime features): the detector's first fit needs ``min_train`` feature
        rows, and feature row 0 sits on price row 1 (later with realized vol or the jump
        features: ``DetectorConfig.warmup``)."""
        det = self.regime_detector
        if not self.regime_features or det is None:
            return 0
        return det.min_train + det.warmup

    @property
    def history_needed(self) -> int:
        """Sessions up to and including a decision that the observation and menu read."""
        return max(
            max(self.estimation_window, self.lookback, self.vol_window, self.momentum_window) + 1,
            self.regime_warmup,
        )
