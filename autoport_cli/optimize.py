"""``autoport optimize``: one objective under a constraint set, plus the efficient frontier.

A shell: merges ``--config``/``--constraints`` YAML with the options, loads the prices, calls
:func:`autoport.optimize.report.optimize_report` (estimates, the objective, the frontier and the
Pareto set), renders rich tables, writes ``--json``, saves the frontier (CSV +
:func:`autoport.reporting.plot_frontier`) and weights into the output folder and logs the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from autoport.errors import ConfigError
from autoport_cli.choices import MAX_WEIGHT, OPTIMIZE, ObjectiveName, ReturnsModel, RiskModel, value
from autoport_cli.common import (
    AllowJumpsOption, FfillOption, JsonOption, OutOption, PricesOption, StartOption,
    TrackOption, bundled_config,
    console,
    emit_json,
    load_prices,
    output_dir,
    to_jsonable,
    user_errors,
)
from autoport_cli.common import check_tracking

EXPERIMENT = "optimize"


def _window(value: str | None) -> int | str | None:
    if value is None:
        return None
    if value == "all":
        return "all"
    try:
        n = int(value)
    except ValueError:
        raise ConfigError(
            f"--window must be a number of sessions or 'all', got {value!r}"
        ) from None
    if n < 30:
        raise ConfigError(f"--window {n} is too short; use at least 30 sessions or 'all'")
    return n


@user_errors
def optimize(
    objective: Annotated[
        ObjectiveName | None,
        typer.Option("--objective", help="what to optimise",
                     show_default=OPTIMIZE["objective"]),
    ] = None,
    constraints: Annotated[
        Path | None,
        typer.Option("--constraints", help="constraints YAML, e.g. "
                     "configs/constraints.example.yaml", show_default="long only, fully invested"),
    ] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="optimize settings YAML; options override it",
        show_default="none")] = None,
    frontier_points: Annotated[
        int | None,
        typer.Option("--frontier-points", help="frontier points (0 = none, ≤1000)",
                     show_default=str(OPTIMIZE["frontier_points"])),
    ] = None,
    max_weight: Annotated[
        float | None,
        typer.Option("--max-weight", help="cap per asset, long-only objectives but risk_parity "
                     "(as the backtest's mpt; 1 = none; a constraints file's upper wins)",
                     show_default=f"{MAX_WEIGHT:g}"),
    ] = None,
    returns_model: Annotated[
        ReturnsModel | None,
        typer.Option("--returns-model", help="expected returns estimator",
                     show_default=OPTIMIZE["returns_model"]),
    ] = None,
    risk_model: Annotated[
        RiskModel | None,
        typer.Option("--risk-model", help="covariance estimator",
                     show_default=OPTIMIZE["risk_model"]),
    ] = None,
    prices: PricesOption = None,
    window: Annotated[
        str | None, typer.Option("--window", help="sessions before --as-of, or 'all'",
                                 show_default=str(OPTIMIZE["window"]))
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="last date of the estimation window",
                                 show_default="the last date of the prices")
    ] = None,
    start: StartOption = None,
    end: Annotated[
        str | None, typer.Option("--end", help="last date of the prices used (as --as-of)",
                                 show_default="the last date of the prices")
    ] = None,
    ffill: FfillOption = False,
    allow_jumps: AllowJumpsOption = False,
    risk_free: Annotated[
        float | None, typer.Option("--risk-free", help="annual risk-free rate, e.g. 0.02",
                                   show_default=str(OPTIMIZE["risk_free_rate"]))
    ] = None,
    target_return: Annotated[
        float | None, typer.Option("--target-return", help="annual, for efficient_return",
                                   show_default="none")
    ] = None,
    target_volatility: Annotated[
        float | None, typer.Option("--target-volatility", help="annual, for efficient_risk",
                                   show_default="none")
    ] = None,
    risk_tolerance: Annotated[
        float | None, typer.Option("--risk-tolerance", help="0..1, for max_utility/mean_cvar",
                                   show_default="none")
    ] = None,
    kelly_fraction: Annotated[
        float | None, typer.Option("--kelly-fraction", help="0..1, for kelly",
                                   show_default=str(OPTIMIZE["kelly_fraction"]))
    ] = None,
    pareto: Annotated[
        str | None,
        typer.Option("--pareto", help="Pareto set of two measures, e.g. return,cdar "
                     "(return | variance | cvar | cdar)", show_default="none"),
    ] = None,
    as_json: JsonOption = False,
    out: OutOption = None,
    track: TrackOption = True,
) -> None:
    """Optimal weights for one objective and the efficient frontier, on annualised estimates."""
    from autoport import data, tracking
    from autoport.optimize import Objective
    from autoport.optimize import config as cfgmod
    from autoport.optimize.report import optimize_report, sessions_needed

    if as_of is not None and end is not None and as_of != end:
        raise ConfigError(f"--as-of {as_of} and --end {end} disagree; give one of them")
    as_of = as_of if as_of is not None else end
    overrides = {
        "objective": value(objective), "frontier_points": frontier_points,
        "max_weight": max_weight, "returns_model": value(returns_model),
        "risk_model": value(risk_model), "window": _window(window),
        "as_of": as_of, "risk_free_rate": risk_free, "target_return": target_return,
        "target_volatility": target_volatility, "risk_tolerance": risk_tolerance,
        "kelly_fraction": kelly_fraction,
        "pareto": [p.strip() for p in pareto.split(",")] if pareto else None,
    }
    cfg = cfgmod.load_config(bundled_config(config), bundled_config(constraints), overrides)
    check_tracking(track)
    Objective.parse(cfg.objective)  # an unknown name fails before the prices load
    panel = load_prices(
        prices, start=start, end=cfg.as_of, min_history=sessions_needed(cfg), ffill=ffill,
        allow_jumps=allow_jumps, ragged=True, end_flag="--as-of" if as_of is not None or end is None
        else "--end",
    )
    report = optimize_report(panel, cfg, sectors=data.sector_map() if prices is None else None)
    result, frontier = report.result, report.frontier

    payload = report.to_json()
    with output_dir(out, "optimize") as (staging, final):
        result.weights.rename("weight").to_csv(staging / "weights.csv", index_label="ticker")
        (staging / "result.json").write_text(json.dumps(to_jsonable(payload), indent=2))
        (staging / "config.json").write_text(cfg.model_dump_json(indent=2))
        if frontier is not None:
            from autoport.reporting import plot_frontier

            frontier.to_frame().to_csv(staging / "frontier.csv", index=False)
            plot_frontier(report, staging / "frontier.png")
        if report.pareto is not None:
            report.pareto.to_csv(staging / "pareto.csv", index=False)
        # logged before the folder is kept: a failed or interrupted log keeps neither
        payload["run_id"] = None
        if track:
            payload["run_id"] = tracking.log_run(
                EXPERIMENT,
                run_name=f"optimize-{result.objective}",
                params={**report.mlflow_params(), "prices": str(prices) if prices else "bundled"},
                metrics=report.mlflow_metrics(),
                artifacts_dir=staging,
                config=cfg.model_dump(),
            )
    payload["artifacts_dir"] = str(final)
    if as_json:
        emit_json(payload)
        return
    _render(result, report.in_sample, list(report.notes), final, frontier)


def _render(result, stats, notes, final, frontier) -> None:
    table = Table(title=f"{result.objective} weights", show_lines=False)
    table.add_column("ticker")
    table.add_column("weight", justify="right")
    w = result.weights[result.weights.abs() > 1e-6].sort_values(ascending=False)
    for ticker, weight in w.items():
        table.add_row(str(ticker), f"{weight:.2%}")
    console.print(table)
    summary = Table(title="portfolio (annualised, 252 sessions)")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    rows = [
        ("expected return", f"{result.expected_return:.2%}"),
        ("expected volatility", f"{result.volatility:.2%}"),
        (f"Sharpe (rf {result.risk_free_rate:.2%})", f"{result.sharpe_ratio:.3f}"),
        ("in-sample Sortino", f"{stats['sortino_ratio']:.3f}"),
        ("in-sample max drawdown", f"{stats['max_drawdown']:.2%}"),
        ("solver", result.solver),
    ]
    if frontier is not None:
        rows.append(("frontier points", str(len(frontier.returns))))
    for name, shown in rows:
        summary.add_row(name, shown)
    console.print(summary)
    for note in notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    console.print(f"outputs: {final}", highlight=False, soft_wrap=True)
