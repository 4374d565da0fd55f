"""``configs/dqn.yaml`` as a validated model: environment, DQN, evaluation protocol."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from autoport import configfile
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from autoport.envs.config import EnvConfig


class DQNSettings(BaseModel):
    """Arguments of ``stable_baselines3.DQN`` (names as SB3 spells them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    net_arch: tuple[int, ...] = (64, 64)
    learning_rate: float = Field(5e-4, gt=0, le=1)
    buffer_size: int = Field(100_000, ge=100)
    learning_starts: int = Field(1_000, ge=0)
    batch_size: int = Field(64, ge=1)
    gamma: float = Field(0.9, gt=0, le=1)
    train_freq: int = Field(4, ge=1)
    gradient_steps: int = Field(1, ge=-1)
    target_update_interval: int = Field(1_000, ge=1)
    exploration_fraction: float = Field(0.3, gt=0, le=1)
    exploration_initial_eps: float = Field(1.0, ge=0, le=1)
    exploration_final_eps: float = Field(0.05, ge=0, le=1)
    max_grad_norm: float = Field(10.0, gt=0)


class Protocol(BaseModel):
    """Date split and success rule; ``autoport promote`` uses the same block."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    train_end: date = date(2014, 12, 31)
    validation_start: date = date(2015, 1, 1)
    validation_end: date = date(2017, 12, 31)
    test_start: date = date(2018, 1, 1)
    test_end: date | None = None
    episode_sessions: int = Field(63, ge=5, description="sessions per evaluation episode")
    max_drawdown_limit: float = Field(
        0.15, gt=0, lt=1, description="an episode fails if its max drawdown exceeds this"
    )
    target_success_rate: float = Field(0.75, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Protocol:
        if not (self.train_end < self.validation_start <= self.validation_end < self.test_start):
            raise ValueError(
                "dates must run train_end < validation_start <= validation_end < test_start"
            )
        if self.test_end is not None and self.test_end <= self.test_start:
            raise ValueError("test_end must come after test_start")
        return self


class Validation(BaseModel):
    """Model selection on the validation period: evaluate every ``eval_freq`` steps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    eval_freq: int = Field(5_000, ge=1)
    patience: int = Field(6, ge=1, description="evaluations without improvement before stop")
    min_evals: int = Field(3, ge=1, description="evaluations before early stopping may fire")


class AgentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(0, ge=0)
    timesteps: int = Field(40_000, ge=1)  # chosen on validation: see configs/dqn.yaml
    env: EnvConfig = EnvConfig()
    dqn: DQNSettings = DQNSettings()
    protocol: Protocol = Protocol()
    validation: Validation = Validation()


def load_config(
    path: str | Path | None,
    overrides: dict[str, Any] | None = None,
    *,
    regime_model: str | None = None,
) -> AgentConfig:
    """YAML (optional) merged with top-level overrides; one message for any bad key or value.

    ``regime_model`` (or ``env.regime_model`` in the file): an ``autoport regime`` run whose
    model supplies the regime features; its detector settings replace ``env.regime_detector``
    so the saved agent records what built its features.
    """
    raw, _ = configfile.read_mapping(path)
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    env = dict(raw.get("env") or {})
    if regime_model is not None:
        env.update(regime_features=True, regime_model=regime_model)
    if env.get("regime_model"):
        from autoport.regime.logged import load_logged_model

        env["regime_detector"] = load_logged_model(env["regime_model"]).detector.model_dump()
    if env:
        raw["env"] = env
    if overrides and any(v is not None for v in overrides.values()):
        return configfile.validate(
            AgentConfig, raw, f"agent config {path}" if path else "agent config", overrides
        )
    return parse_config(raw, source=str(path) if path else "the bundled defaults")


def parse_config(raw: AgentConfig | dict[str, Any] | None, source: str = "config") -> AgentConfig:
    if isinstance(raw, AgentConfig):
        return raw
    try:
        return AgentConfig.model_validate(raw or {})
    except ValidationError as exc:
        raise configfile.invalid(f"agent config in {source}", exc) from None
