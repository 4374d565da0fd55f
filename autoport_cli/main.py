"""The ``autoport`` Typer app. Each command lives in its own module and registers itself."""

from __future__ import annotations

import importlib

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
