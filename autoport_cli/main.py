"""The ``autoport`` Typer app: one module per command, registered here by static imports.

Importing this module must stay cheap (``autoport --help`` in a fraction of a second): command
modules import typer, rich and light option lists only, and load numpy, pandas, cvxpy, zipline,
torch, matplotlib and MLflow inside the code that uses them. ``tests/cli/test_cli_start.py`` checks it.
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread unless the user says otherwise: on small machines numpy, scipy and scs
# each bring an OpenBLAS pool and oversubscribe the cores (hmmlearn fits ran several times
# slower). The hot paths that gain from threads manage them with threadpoolctl.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from typing import Annotated  # noqa: E402

import typer  # noqa: E402

from autoport_cli.backtest import backtest  # noqa: E402
from autoport_cli.monitor import monitor  # noqa: E402
from autoport_cli.optimize import optimize  # noqa: E402
from autoport_cli.promote import promote  # noqa: E402
from autoport_cli.regime import regime  # noqa: E402
from autoport_cli.runs import runs  # noqa: E402
from autoport_cli.stress import stress  # noqa: E402
from autoport_cli.sweep import sweep  # noqa: E402
from autoport_cli.common import Command, Group  # noqa: E402
from autoport_cli.train_agent import train_agent  # noqa: E402
from autoport_cli.walk_forward import walk_forward  # noqa: E402

app = typer.Typer(
    name="autoport",
    help="Portfolio research workbench: optimize, backtest, stress, monitor, detect regimes, "
    "train, promote.",
    no_args_is_help=True,
    cls=Group,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion; choices complete
)


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        typer.echo(f"autoport {version('autoport')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="print the version and exit")] = False,
) -> None:
    """Portfolio research workbench: optimize, backtest, stress, monitor, detect regimes,
    train, promote."""


for _name, _fn in (("backtest", backtest), ("stress", stress), ("optimize", optimize),
                   ("train-agent", train_agent), ("promote", promote), ("runs", runs),
                   ("regime", regime), ("sweep", sweep), ("monitor", monitor),
                   ("walk-forward", walk_forward)):
    app.command(_name, cls=Command)(_fn)


if __name__ == "__main__":
    app()
