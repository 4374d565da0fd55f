"""autoport: portfolio construction, risk, regimes, RL allocators and honest backtests.

The core computes and returns values; reading files, printing and MLflow live at the edges
(``autoport.data`` loaders, ``autoport.tracking`` and the ``autoport_cli`` shell).
"""

__version__ = "0.1.0"
