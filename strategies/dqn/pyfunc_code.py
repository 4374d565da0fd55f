"""The DQN policy model, logged from code (``mlflow.pyfunc.log_model(python_model=<this
file>)``): MLflow runs this file to build the model, so nothing is pickled."""

import mlflow

from autoport.strategies.dqn.pyfunc import PolicyPyfunc

mlflow.models.set_model(PolicyPyfunc())
