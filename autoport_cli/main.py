"""The ``autoport`` Typer app: one module per command, registered here by static imports.

Importing this module must stay cheap (``autoport --help`` in a fraction of a second): command
modules import typer, rich and light option lists only, and load numpy, pandas, cvxpy, zipline,
torch, matplotlib and MLflow inside the code that uses them. ``tests/test_cli_start.py`` checks it.
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread unless the user says otherwise: on small machines numpy, scipy and scs
# each bring an OpenBLAS pool and oversubscribe the cores (hmmlearn fits ran several times
# slower). The hot paths that gain from threads manage them with threadpoolctl.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import typer  # noqa: E402

from autoport_cli.backtest import backtest  # noqa: E402
from autoport_cli.optimize import optimize  # noqa: E402
from autoport_cli.promote import promote  # noqa: E402
from autoport_cli.regime import regime  # noqa: E402
from autoport_cli.runs import runs  # noqa: E402
from autoport_cli.stress import stress  # noqa: E402
from autoport_cli.sweep import sweep  # noqa: E402
from autoport_cli.train_agent import train_agent  # noqa: E402
from autoport_cli.walk_forward import walk_forward  # noqa: E402

app = typer.Typer(
    name="autoport",
    help="Portfolio research workbench: optimize, backtest, stress, detect regimes, train, promote.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.command("backtest")(backtest)
app.command("stress")(stress)
app.command("optimize")(optimize)
app.command("train-agent")(train_agent)
app.command("promote")(promote)
app.command("runs")(runs)
app.command("regime")(regime)
app.command("sweep")(sweep)
app.command("walk-forward")(walk_forward)


if __name__ == "__main__":
    app()
