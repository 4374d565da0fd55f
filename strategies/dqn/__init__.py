"""The DQN allocator family: the strategy, its training (stable-baselines3), the evaluation
protocol and the logged MLflow policy model.

It sits above the core with the environment it learns in (``autoport.envs``): ``config`` holds
the agent settings, ``train`` learns on the training period and selects on validation,
``evaluate`` runs the episode protocol and re-runs a logged model's test evaluation (used by
``autoport promote``), ``policy`` maps observations to allocations, ``pyfunc`` is the MLflow
model. Importing this package stays light: only the strategy is loaded here.
"""

from autoport.strategies.dqn.strategy import DQNPolicy

__all__ = ["DQNPolicy"]
