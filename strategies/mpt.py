"""Markowitz on a trailing window: expected returns and a shrunk covariance, then an objective.

The estimates use only the ``window`` sessions the strategy is handed, ending at the decision
date's close.
"""

from __future__ import annotations

import pandas as pd

from autoport import portfolio
from autoport.strategies.base import Decision, check_weights


class MeanVariance:
    name = "mpt"

    def __init__(
        self,
        *,
        window: int = 252,
        objective: str = "max_sharpe",
        max_weight: float = 0.25,
        risk_free_rate: float = 0.0,
    ) -> None:
        self.window = window
        self.objective = objective
        self.max_weight = max_weight
        self.risk_free_rate = risk_free_rate
        self.min_history = window + 1

    def decide(self, history: pd.DataFrame) -> Decision:
        trailing = history.iloc[-(self.window + 1) :]
        result = portfolio.solve(
            trailing,
            objective=self.objective,
            max_weight=self.max_weight,
            risk_free_rate=self.risk_free_rate,
        )
        weights = check_weights(result.weights)
        return Decision(
            history.index[-1],
            weights,
            f"{self.objective} on {self.window} sessions to {history.index[-1].date()}"
            + (f" ({result.note})" if result.note else ""),
            {"expected_return": result.expected_return, "volatility": result.volatility},
        )
