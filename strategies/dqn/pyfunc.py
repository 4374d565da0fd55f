"""The MLflow pyfunc face of a :class:`~autoport.strategies.dqn.policy.PolicyMapper`.

Input: a list of observations (each a list of ``obs_size`` floats, as built by
:mod:`autoport.envs.features`); output: a frame with ``action``, ``action_name`` and one
long-only weight per ticker plus ``CASH``, summing to 1.

``predict``'s type hints give the logged model its signature (input ``Array(double)``), so
MLflow validates inputs and no longer warns. :data:`MODEL_CODE` is the file to log the model
from ("models from code": no pickled Python object), as ``autoport train-agent`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

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


class PolicyPyfunc(mlflow.pyfunc.PythonModel):
    def __init__(self) -> None:
        self.mapper: PolicyMapper | None = None

    def load_context(self, context) -> None:
        self.mapper = PolicyMapper.load(context.artifacts["policy"], context.artifacts["spec"])

    def predict(
        self, context, model_input: list[list[float]], params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return self.mapper.predict(np.asarray(model_input, dtype=np.float32))
