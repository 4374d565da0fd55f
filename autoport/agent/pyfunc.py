"""The MLflow pyfunc face of a :class:`~autoport.agent.policy.PolicyMapper`.

Input: observations (n, obs_size) as built by :mod:`autoport.envs.features`; output: a frame
with ``action``, ``action_name`` and one long-only weight per ticker summing to 1.
"""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np

from autoport.agent.policy import PolicyMapper


class PolicyPyfunc(mlflow.pyfunc.PythonModel):
    def __init__(self) -> None:
        self.mapper: PolicyMapper | None = None

    def load_context(self, context) -> None:
        self.mapper = PolicyMapper.load(context.artifacts["policy"], context.artifacts["spec"])

    def predict(self, context, model_input, params=None):
        return self.mapper.predict(np.asarray(model_input, dtype=np.float32))
