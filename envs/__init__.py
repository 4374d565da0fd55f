"""The Gymnasium portfolio environment, served as ``autoport.envs``.

``import autoport`` registers ``autoport/Portfolio-v0`` (:mod:`autoport._gym`):
``gymnasium.make("autoport/Portfolio-v0")`` runs on the bundled prices; ``prices=`` takes a panel.
"""

from __future__ import annotations

import gymnasium as gym

from autoport._gym import ENV_ID, register
from autoport.envs.config import ACTION_NAMES, EnvConfig

register(gym)  # `import autoport` already did, once Gymnasium was imported


def __getattr__(name: str):
    if name == "PortfolioEnv":  # lazy: keep `import autoport.envs` cheap
        from autoport.envs.portfolio_env import PortfolioEnv

        return PortfolioEnv
    raise AttributeError(name)


__all__ = ["ACTION_NAMES", "ENV_ID", "EnvConfig", "PortfolioEnv"]
