"""The answer of every optimiser, in its own module so objectives and risk budgeting share it
without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class OptimizationResult:
    """Weights and what they promise, with the solver that produced them and any notes."""

    objective: str
    weights: pd.Series
    expected_return: float
    volatility: float
    sharpe_ratio: float
    risk_free_rate: float
    solver: str
    status: str
    attempts: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)
