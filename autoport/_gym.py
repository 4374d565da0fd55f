"""``autoport/Portfolio-v0`` registered with Gymnasium by ``import autoport``, cheaply.

The registration names the environment by an entry-point string, so the core imports nothing
above it (``autoport.envs`` loads only when ``gymnasium.make`` builds the env). Importing
Gymnasium itself loads numpy, which ``autoport --help`` must not pay for: when Gymnasium is not
imported yet, a one-shot import hook registers the env the moment it is.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

ENV_ID = "autoport/Portfolio-v0"
ENTRY_POINT = "autoport.envs.portfolio_env:PortfolioEnv"


def register(gym: ModuleType) -> None:
    """Register the env with this ``gymnasium`` module (once)."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point=ENTRY_POINT)


class _Loader:
    """Gymnasium's own loader, followed by :func:`register` (a loader by duck typing: importing
    ``importlib.abc`` would cost ``autoport --help`` more than this whole module)."""

    def __init__(self, loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        register(module)


class _OnImport:
    """Finds nothing itself: wraps the loader of ``gymnasium`` the first time it is imported."""

    def find_spec(self, name, path=None, target=None):
        if name != "gymnasium":
            return None
        sys.meta_path.remove(self)  # one shot; also keeps the lookup below from recursing
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def register_when_imported() -> None:
    """Register now if Gymnasium is loaded, else as soon as it is."""
    gym = sys.modules.get("gymnasium")
    if gym is not None and hasattr(gym, "registry"):
        register(gym)
    elif not any(isinstance(f, _OnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _OnImport())
