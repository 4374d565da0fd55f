"""The Gymnasium portfolio environment, served as ``autoport.envs``.

Importing this package registers ``autoport/Portfolio-v0``:
``gymnasium.make("autoport/Portfolio-v0")`` runs on the bundled prices; ``prices=`` takes a panel.
"""

from __future__ import annotations

import gymnasium as gym

from autoport.envs.config import ACTION_NAMES, EnvConfig

ENV_ID = "autoport/Portfolio-v0"

if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="autoport.envs.portfolio_env:PortfolioEnv")


def __getattr__(name: str):
    if name == "PortfolioEnv":  # lazy: keep `import autoport.envs` cheap
        from autoport.envs.portfolio_env import PortfolioEnv

        return PortfolioEnv
    raise AttributeError(name)


__all__ = ["ACTION_NAMES", "ENV_ID", "EnvConfig", "PortfolioEnv"]
