"""The ``autoport`` Typer app. Each command lives in its own module and registers itself."""

from __future__ import annotations

import importlib
import os

# One BLAS/OpenMP thread unless the user says otherwise: on small machines numpy, scipy and scs
# each bring an OpenBLAS pool and oversubscribe the cores (hmmlearn fits ran several times
# slower). The hot paths that gain from threads manage them with threadpoolctl.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import typer

app = typer.Typer(
    name="autoport",
    help="Portfolio research workbench: optimize, backtest, stress, detect regimes, train, promote.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# One module per command; each exposes ``register(app)``.
COMMAND_MODULES = ["backtest", "stress", "optimize", "train_agent", "promote", "runs", "regime"]

for _name in COMMAND_MODULES:
    importlib.import_module(f"autoport_cli.{_name}").register(app)


if __name__ == "__main__":
    app()
