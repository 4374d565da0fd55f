"""The DQN allocator: training (SB3), the evaluation protocol, and the logged policy model.

``train`` learns on the training period and selects on validation; ``evaluate_model`` re-runs
the held-out test evaluation of a logged model (used by ``autoport promote``).
"""

from autoport.agent.config import AgentConfig, load_config
from autoport.agent.evaluate import evaluate_model, evaluate_policy
from autoport.agent.train import TrainingResult, train

__all__ = ["AgentConfig", "TrainingResult", "evaluate_model", "evaluate_policy", "load_config",
           "train"]
