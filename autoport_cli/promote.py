"""``autoport promote``: re-evaluate a run, check the gates, register it only if all pass."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from autoport.errors import ConfigError
from autoport_cli.common import (
    JsonOption, OutOption, bundled_config, console, emit_json, err_console, output_dir,
    user_errors, waiting,
)
from autoport_cli.common import check_tracking


@user_errors
def promote(
    run_id: Annotated[str | None, typer.Argument(help="MLflow run id (see `autoport runs`)")] = None,
    gates: Annotated[Path | None, typer.Option(
        help="gates YAML", show_default="the bundled configs/gates.yaml")] = None,
    name: Annotated[str | None, typer.Option(
        help="registered model name", show_default="autoport-STRATEGY")] = None,
    test_start: Annotated[str | None, typer.Option(
        help="override test_period.start (YYYY-MM-DD)",
        show_default="test_period.start of the gates")] = None,
    test_end: Annotated[str | None, typer.Option(
        help="override test_period.end (YYYY-MM-DD)",
        show_default="test_period.end of the gates")] = None,
    list_versions: Annotated[bool, typer.Option(
        "--list", help="show registered versions, aliases and gates")] = False,
    out: OutOption = None,
    json_output: JsonOption = False,
) -> None:
    """Promote RUN_ID to the model registry (alias champion) if every gate passes.

    Exit code 1 when a gate fails; the registry is then left untouched.
    """
    check_tracking(hint="unset MLFLOW_TRACKING_URI to use the local store in autoport_home")
    if list_versions:
        _list(name, json_output)
        return
    if run_id is None:
        raise ConfigError("give a RUN_ID to promote, or --list to show registered versions")
    from autoport.promotion.gates import load_gates

    config = load_gates(bundled_config(gates))
    period = config.test_period.model_dump()
    period.update({k: _date(v, flag) for k, v, flag in
                   (("start", test_start, "--test-start"), ("end", test_end, "--test-end"))
                   if v is not None})
    config = config.model_validate({**config.model_dump(), "test_period": period})
    if not json_output:
        err_console.print(f"re-evaluating run {run_id} on the test period from "
                          f"{config.test_period.start} (this takes a while)")
    from autoport.promotion.promote import promote_run  # imports MLflow: only when used

    with output_dir(out, f"promote-{run_id[:8]}") as (staging, final), \
            waiting("loading the run", quiet=json_output) as say:
        result = promote_run(run_id, config, staging, toolkit=_toolkit(), name=name,
                             on_step=say)
    if json_output:
        emit_json({**result.as_dict(), "artifacts_dir": final, "report": final / "report.md"})
    else:
        _print(result, final)
    if not result.promoted:
        raise typer.Exit(code=1)


def _toolkit():
    """The strategies and the DQN evaluator, handed to the core's promotion evaluators."""
    from autoport.strategies.dqn.evaluate import evaluate_model
    from autoport.promotion.evaluate import Toolkit
    from autoport.strategies import make_strategy

    return Toolkit(make_strategy=make_strategy, evaluate_model=evaluate_model)


def _date(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{flag} {value!r} is not a date; use YYYY-MM-DD") from None


def _print(result, folder: Path) -> None:
    from autoport.promotion.report import bound_text, fmt

    ev = result.evaluation
    period = f"{ev.start.date()} to {ev.end.date()}" if ev.start is not None else "test period"
    table = Table(title=f"gates for run {result.run_id} ({period}, re-evaluated)")
    table.add_column("gate (metric)", overflow="fold")
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("threshold", justify="right", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    for g in result.gates:
        colour = {True: "green", False: "bold red", None: "dim"}[g.passed]
        label = g.name if g.metric == g.name else f"{g.name}\n[dim]{g.metric}[/]"
        table.add_row(label, fmt(g.value, g.metric), g.comparison, bound_text(g),
                      f"[{colour}]{g.verdict}[/]")
    console.print(table)
    for g in result.gates:
        if g.passed is False and g.note:
            console.print(f"  {g.name}: {g.note}", highlight=False)
    if result.promoted:
        moved = (f"; version {result.previous_version} is now 'previous'"
                 if result.previous_version else "")
        console.print(f"[bold green]promoted[/]: {result.model_name} version "
                      f"{result.model_version} is '{result.alias}'{moved}")
    else:
        failed = sum(1 for g in result.gates if g.passed is False)
        console.print(f"[bold red]not promoted[/]: {failed} gate(s) failed; the model registry "
                      "was not touched")
    console.print(f"report: [bold]{folder / 'report.md'}[/] (validation run "
                  f"{result.validation_run_id})")


def _list(name: str | None, json_output: bool) -> None:
    from autoport.promotion import registry

    rows = registry.list_versions(name)
    if json_output:
        emit_json({"run_id": None, "artifacts_dir": None, "versions": rows})
        return
    if not rows:
        console.print("no registered models yet; promote a run with `autoport promote RUN_ID`")
        return
    table = Table(title="registered versions" + (f" of {name}" if name else ""))
    for column in ("model", "version", "aliases", "created (UTC)", "source run", "gates"):
        table.add_column(column)
    for row in rows:
        gates = ", ".join(
            f"{g['name']} {'ok' if g['passed'] else 'FAIL' if g['passed'] is False else '-'}"
            for g in row["gates"]
        )
        table.add_row(row["model_name"], row["version"], ", ".join(row["aliases"]),
                      f"{row['created']:%Y-%m-%d %H:%M}", row["source_run_id"],
                      f"{row['gates_passed']} {gates}".strip())
    console.print(table)
