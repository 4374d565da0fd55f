"""``autoport runs``: the latest MLflow runs with their key metrics, without opening the UI."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from autoport_cli.common import JsonOption, console, emit_json, user_errors
from autoport_cli.common import check_tracking

KEY_METRICS = ("sharpe", "annual_return", "max_drawdown", "success_rate")
PERCENT = {"annual_return", "max_drawdown", "success_rate"}
HEADERS = {"sharpe": "Sharpe", "annual_return": "return", "max_drawdown": "max DD",
           "success_rate": "success"}


def _figure(metrics: dict, key: str) -> float | None:
    """A run's figure: backtests log ``sharpe``; train-agent (and a sweep's winner) log their
    held-out test figures as ``test_sharpe``, ``test_success_rate``."""
    return metrics.get(key, metrics.get(f"test_{key}"))


@user_errors
def runs(
    experiment: Annotated[str | None, typer.Option(
        help="only this experiment, e.g. backtests", show_default="all")] = None,
    limit: Annotated[int, typer.Option(min=1, help="how many runs, newest first")] = 20,
    json_output: JsonOption = False,
) -> None:
    """List recent runs with their key metrics (store: MLFLOW_TRACKING_URI or autoport_home)."""
    check_tracking(hint="unset MLFLOW_TRACKING_URI to use the local store in autoport_home")
    from autoport import tracking

    rows = tracking.recent_runs(experiment, limit)
    if json_output:
        # the envelope every command prints; this one starts no run and writes no folder
        emit_json({"run_id": None, "artifacts_dir": None,
                   "tracking_uri": tracking.tracking_uri(), "runs": rows})
        return
    where = f"experiment {experiment!r}" if experiment else "all experiments"
    if not rows:
        console.print(f"no runs yet in {where} (store: {tracking.tracking_uri()})")
        return
    shown = [k for k in KEY_METRICS if any(_figure(row["metrics"], k) is not None
                                           for row in rows)]
    table = Table(title=f"latest {len(rows)} runs, {where} (times UTC)")
    table.add_column("run id", no_wrap=True)
    table.add_column("kind: name", overflow="ellipsis", min_width=12)
    table.add_column("started", no_wrap=True)
    for key in shown:
        table.add_column(HEADERS[key], justify="right", no_wrap=True)
    for row in rows:
        figures = row["metrics"]
        cells = []
        for key in shown:
            value = _figure(figures, key)
            cells.append("" if value is None else f"{value:.1%}" if key in PERCENT
                         else f"{value:.3f}")
        kind = row["tags"].get("command") or row["experiment"]
        name = row["run_name"]
        if row["status"] != "FINISHED":
            name += f" [{row['status']}]"
        table.add_row(row["run_id"], f"{kind}: {name}", f"{row['start_time']:%m-%d %H:%M}", *cells)
    console.print(table)
    console.print(f"store: {tracking.tracking_uri()}; promote one with `autoport promote RUN_ID`")
