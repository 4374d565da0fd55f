"""The MLflow pyfunc face of a :class:`~autoport.strategies.dqn.policy.PolicyMapper`.

Two inputs, told apart by their columns:

- a **price panel** (what a user has, as for the promoted MPT model): a frame of closes with a
  date index and one column per ticker the model was trained on (any order), history up to the
  decision date (``history_needed`` sessions at least). The model builds the observation itself,
  as the ``dqn`` strategy does outside an engine: a fresh all-cash book, no drawdown. One row,
  dated at the panel's last session.
- **observations** (what the env emits): a list of observations, each a list of ``obs_size``
  floats built by :mod:`autoport.envs.features` (or a frame of them with other columns). One
  row per observation.

Output: a frame with ``action``, ``action_name`` and one long-only weight per ticker plus
``CASH``, summing to 1. ``predict`` takes any of these inputs, so the model has no input
schema (MLflow would otherwise reject one form). :data:`MODEL_CODE` is the file to log the
model from ("models from code": no pickled Python object), as ``autoport train-agent`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from autoport.errors import DataError
from autoport.strategies.dqn.policy import PolicyMapper

MODEL_CODE = Path(__file__).with_name("pyfunc_code.py")
# What loading the model imports, by distribution (the autoport package itself is logged with
# the model as code, see model_log_kwargs): autoport.strategies loads every strategy family,
# hence the optimizer's libraries. tests/strategies/test_dqn_model_fresh_env.py loads a logged
# model in a venv without autoport and checks every module it imports is covered.
REQUIREMENTS = (
    "mlflow", "stable-baselines3", "torch", "gymnasium", "numpy", "pandas", "scipy", "pydantic",
    "pyyaml", "scikit-learn", "cvxpy", "pyportfolioopt", "empyrical-reloaded", "threadpoolctl",
    "filelock",
)


def model_log_kwargs(folder: Path) -> dict[str, Any]:
    """What :func:`autoport.tracking.log_model_run` needs besides the policy files: the model
    code, autoport's own source (``folder`` receives a copy) and the pinned requirements."""
    from autoport import tracking

    return {"python_model": str(MODEL_CODE),
            "code_paths": [str(tracking.package_source(folder))],
            "pip_requirements": requirements()}


def requirements() -> list[str]:
    """:data:`REQUIREMENTS` pinned to the versions installed here."""
    from importlib import metadata

    return [f"{name}=={metadata.version(name)}" for name in REQUIREMENTS]


def is_price_panel(model_input: Any, tickers: list[str]) -> bool:
    """A frame whose columns are the model's tickers (a served request's ``dataframe_split``
    or a pandas frame in Python); anything else is read as observations."""
    return isinstance(model_input, pd.DataFrame) and (
        {str(c) for c in model_input.columns} == set(tickers))


class PolicyPyfunc(mlflow.pyfunc.PythonModel):
    _skip_type_hint_validation = True  # prices or observations: no single schema

    def __init__(self) -> None:
        self.mapper: PolicyMapper | None = None

    def load_context(self, context) -> None:
        self.mapper = PolicyMapper.load(context.artifacts["policy"], context.artifacts["spec"])

    def predict(self, context, model_input, params: dict[str, Any] | None = None
                ) -> pd.DataFrame:  # noqa: ARG002 (pyfunc signature)
        if is_price_panel(model_input, self.mapper.tickers):
            return self.predict_prices(model_input)
        if isinstance(model_input, pd.DataFrame):
            model_input = model_input.to_numpy()
        try:
            observations = np.asarray(model_input, dtype=np.float32)
        except (TypeError, ValueError):
            raise DataError(
                "the DQN model takes a price panel (a column per ticker: "
                f"{', '.join(self.mapper.tickers)}) or a list of observations (lists of floats)"
            ) from None
        return self.mapper.predict(observations)

    def predict_prices(self, prices: pd.DataFrame) -> pd.DataFrame:
        """The decision at the panel's last close, from an all-cash book."""
        from autoport import data as data_mod
        from autoport.strategies.dqn.strategy import DQNPolicy

        frame = pd.DataFrame(prices).copy()
        frame.columns = [str(c) for c in frame.columns]
        if not isinstance(frame.index, pd.DatetimeIndex):
            try:
                frame.index = pd.to_datetime(frame.index)
            except (TypeError, ValueError):
                raise DataError("the price panel's index must hold dates (YYYY-MM-DD)") from None
        frame = frame[self.mapper.tickers].sort_index()
        frame = data_mod.validate_prices(frame, min_history=self.mapper.env_config.history_needed)
        obs, menu, _, _ = DQNPolicy(mapper=self.mapper).observe(frame)
        out = self.mapper.predict(obs[None, :])
        # the menu's own float64 weights (the observation holds them as float32)
        out[self.mapper.tickers] = menu[out["action"].to_numpy()]
        out["CASH"] = max(0.0, 1.0 - float(menu[out["action"].iloc[0]].sum()))
        out.index = pd.DatetimeIndex([frame.index[-1]], name="date")
        return out
