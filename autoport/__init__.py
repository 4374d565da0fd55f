"""autoport: portfolio construction, risk, regimes, RL allocators and honest backtests.

The core computes and returns values; reading files, printing and MLflow live at the edges
(``autoport.data`` loaders, ``autoport.tracking`` and the ``autoport_cli`` shell).
"""

from autoport import _gym

__version__ = "0.1.0"

_gym.register_when_imported()  # gymnasium.make("autoport/Portfolio-v0") after `import autoport`
