"""Markowitz on a trailing window: expected returns and a shrunk covariance, then an objective.

The estimates use only the ``window`` sessions the strategy is handed, ending at the decision
date's close. Max Sharpe and min variance under the weight cap are solved exactly on the
critical-line path, warm-started from the previous decision (:class:`autoport.portfolio.
WindowSolver`); ``objective`` is any optimizer objective; ``constraints`` is the same mapping as a
``--constraints`` YAML file of ``autoport optimize`` (sectors, ESG, exclusions, ...), so a
backtest can run any objective and constraint set from its config.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from autoport import portfolio
from autoport.configfile import validate
from autoport.optimize.config import ConstraintsConfig, to_constraints
from autoport.optimize.constraints import DEFAULT_MAX_WEIGHT
from autoport.decision import Book, Decision, check_weights


class MeanVariance:
    name = "mpt"

    def __init__(
        self,
        *,
        window: int = 252,
        objective: str = "max_sharpe",
        max_weight: float = DEFAULT_MAX_WEIGHT,
        risk_free_rate: float = 0.0,
        constraints: dict[str, Any] | None = None,
        objective_params: dict[str, Any] | None = None,
    ) -> None:
        self.window = window
        self.objective = objective
        self.max_weight = max_weight
        self.risk_free_rate = risk_free_rate
        self.objective_params = dict(objective_params or {})
        self.min_history = window + 1
        # Validate now, so a bad block fails before any zipline work starts.
        self._constraints_cfg = (
            validate(ConstraintsConfig, constraints, "strategy_params.constraints")
            if constraints is not None
            else None
        )
        self._resolved: dict[tuple[str, ...], object] = {}
        # max Sharpe / min variance under the cap: exact and warm-started (the same
        # problem :func:`portfolio.solve` hands a conic solver); anything else goes to it
        self._solve = portfolio.WindowSolver(
            objective=objective, max_weight=max_weight, risk_free_rate=risk_free_rate,
            **self.objective_params)

    def _constraints(self, tickers: list[str]):
        if self._constraints_cfg is None:
            return None
        key = tuple(tickers)
        if key not in self._resolved:
            cfg = self._constraints_cfg
            if cfg.upper is None and cfg.long_only:
                cfg = cfg.model_copy(update={"upper": self.max_weight})
            self._resolved[key] = to_constraints(cfg, list(tickers))
        return self._resolved[key]

    def decide(self, history: pd.DataFrame, book: Book | None = None) -> Decision:
        trailing = history.iloc[-(self.window + 1) :]
        if self._constraints_cfg is None:
            result = self._solve(trailing)
        else:
            result = portfolio.solve(
                trailing,
                objective=self.objective,
                max_weight=self.max_weight,
                risk_free_rate=self.risk_free_rate,
                constraints=self._constraints(list(trailing.columns)),
                **self.objective_params,
            )
        weights = check_weights(result.weights)
        return Decision(
            history.index[-1],
            weights,
            f"{self.objective} on {self.window} sessions to {history.index[-1].date()}"
            + (f" ({result.note})" if result.note else ""),
            {"expected_return": result.expected_return, "volatility": result.volatility},
        )
