"""A promoted strategy configuration served as an MLflow pyfunc model.

``autoport promote`` logs this class from code (``autoport.promotion.registry.MODEL_CODE``)
with the backtest config as the model's ``model_config``; whoever loads the model gets the
configured strategy's decision for a price history. It lives with the strategies because it
builds one; MLflow is imported only for the base class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from autoport.decision import Book
from autoport.errors import DataError


def _python_model_base():
    import mlflow.pyfunc

    return mlflow.pyfunc.PythonModel


class ConfigStrategyModel(_python_model_base()):
    """A promoted optimizer configuration: a price history in, target weights out.

    ``predict`` takes a wide price panel (date index, one column per ticker, history up to the
    decision date) and returns one row of long-only weights dated at the panel's last session,
    decided by the configured strategy exactly as the backtest decided it.
    """

    _skip_type_hint_validation = True  # predict takes any price panel; no schema wrapping

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config = dict(config) if config is not None else None

    def load_context(self, context) -> None:
        """Logged from code: the config travels as the model's ``model_config``."""
        if self.config is None:
            self.config = dict(context.model_config or {})

    def predict(self, context, model_input, params=None):  # noqa: ARG002 (pyfunc signature)
        from autoport import data as data_mod
        from autoport.backtest import BacktestConfig
        from autoport.strategies.registry import make_strategy

        cfg = BacktestConfig.model_validate(self.config)
        prices = pd.DataFrame(model_input)
        if not isinstance(prices.index, pd.DatetimeIndex):
            prices.index = pd.to_datetime(prices.index)
        prices = data_mod.validate_prices(prices)
        strategy = make_strategy(cfg.strategy, **cfg.strategy_arguments())
        if len(prices) < strategy.min_history:
            raise DataError(
                f"the {cfg.strategy} model needs {strategy.min_history} sessions of prices; "
                f"got {len(prices)}"
            )
        # a fresh account of the configured capital, costs and order sizing
        book = Book.all_cash(prices.iloc[-1], cash=cfg.capital, costs=cfg.costs,
                             sizing=cfg.orders)
        decision = strategy.decide(prices, book)
        return pd.DataFrame([decision.weights], index=pd.DatetimeIndex([decision.date]))
