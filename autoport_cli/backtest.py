"""``autoport backtest``: a strategy beside 1/N and the index, through zipline and pyfolio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from autoport_cli.choices import BACKTEST, Engine, Strategy, value
from autoport_cli.common import (
    AllowJumpsOption, FfillOption, JsonOption, OutOption, PricesOption, TrackOption,
    bundled_config, console, emit_json, err_console, load_prices, output_dir, to_jsonable,
    user_errors,
)
from autoport_cli.common import check_tracking, show_progress, waiting

if TYPE_CHECKING:  # zipline, pyfolio and the strategies load when a backtest runs
    import pandas as pd

    from autoport.backtest import BacktestOutcome

EXPERIMENT = "backtests"
PERCENT_KEYS = {"annual_return", "annual_volatility", "max_drawdown"}


@user_errors
def backtest(
    strategy: Annotated[Strategy | None, typer.Option(
        help="the strategy to backtest", show_default=BACKTEST["strategy"])] = None,
    config: Annotated[Path | None, typer.Option(
        help="YAML config, e.g. configs/backtest.yaml; options override it",
        show_default="none")] = None,
    start: Annotated[str | None, typer.Option(
        help="first trading date (YYYY-MM-DD)",
        show_default="after the first estimation window (and a model's training data)")] = None,
    end: Annotated[str | None, typer.Option(
        help="last trading date (YYYY-MM-DD)", show_default="the last date of the prices")] = None,
    prices: PricesOption = None,
    ffill: FfillOption = False,
    allow_jumps: AllowJumpsOption = False,
    window: Annotated[int | None, typer.Option(
        help="estimation window in sessions", show_default=str(BACKTEST["window"]))] = None,
    seed: Annotated[int | None, typer.Option(
        help="random seed (recorded with the run)", show_default=str(BACKTEST["seed"]))] = None,
    out: OutOption = None,
    json_output: JsonOption = False,
    track: TrackOption = True,
    model: Annotated[str | None, typer.Option(
        help="--strategy dqn: runs:/RUN_ID/model or models:/NAME@alias; --strategy regime: "
             "the run id of `autoport regime` (its model is used as is, no refits)",
        show_default="none")] = None,
    engine: Annotated[Engine, typer.Option(
        help="zipline (the reference) or sim (the fast simulator: the same fills, costs "
             "and whole shares)")] = Engine.zipline,
    allow_in_sample: Annotated[bool, typer.Option(
        "--allow-in-sample", help="with a trained model (or settings chosen by a sweep), also "
        "run over the dates it was trained or selected on; that part is reported apart. "
        "Default: start after them")] = False,
) -> None:
    """Backtest a strategy monthly through zipline with 1/N and the S&P 500 beside it."""
    from autoport import data, tracking
    from autoport.backtest import load_config
    from autoport.strategies.registry import check_strategy_name

    engine = value(engine)
    options = {"strategy": value(strategy), "window": window, "seed": seed, "start": start,
               "end": end, "allow_in_sample": allow_in_sample or None}
    cfg = load_config(bundled_config(config), options)
    check_strategy_name(cfg.strategy)
    check_tracking(track)
    if model is not None:
        cfg = cfg.model_copy(update={"strategy_params": {**cfg.strategy_params,
                                                         "model_uri": model}})
    panel = load_prices(prices, end=end, min_history=cfg.window + 2, ffill=ffill,
                        allow_jumps=allow_jumps, ragged=True)
    index_levels = data.bundled_benchmark() if prices is None else None
    outcome = _run_with_progress(cfg, panel, index_levels, quiet=json_output, engine=engine)
    after_tax = None
    with output_dir(out, f"backtest-{cfg.strategy}") as (staging, final):
        with waiting("drawing the figures and the pyfolio tear sheet", quiet=json_output):
            _write_artifacts(outcome, staging)
        if cfg.strategy == "autopilot":
            after_tax = _write_autopilot_report(outcome, panel, staging)
        run_id = None
        if track:
            run_id = tracking.log_run(
                EXPERIMENT,
                run_name=f"{cfg.strategy}-{outcome.start.date()}-{outcome.end.date()}",
                params={**cfg.model_dump(mode="json", exclude={"costs", "strategy_params"}),
                        **{f"costs.{k}": v for k, v in cfg.costs.model_dump().items()},
                        "strategy_params": cfg.strategy_params,
                        "engine": outcome.engine,
                        "data_hash": data.content_hash(panel),
                        "data_source": str(prices) if prices else "bundled:sp500_dataset",
                        "start_effective": str(outcome.start.date()),
                        "end_effective": str(outcome.end.date())},
                metrics={**outcome.strategy.metrics,
                         **{f"baseline_{k}": v for k, v in outcome.baseline.metrics.items()},
                         **{f"index_{k}": v for k, v in (outcome.index_metrics or {}).items()},
                         **_after_tax_metrics(after_tax)},
                artifacts_dir=staging,
                tags={"command": "backtest", "strategy": cfg.strategy,
                      "engine": outcome.engine,
                      **({"sweep.parent": cfg.sweep_run_id} if cfg.sweep_run_id else {})},
                config=cfg.model_dump(mode="json"),
            )
    result = {
        "strategy": cfg.strategy,
        "engine": outcome.engine,
        "start": outcome.start,
        "end": outcome.end,
        "metrics": outcome.strategy.metrics,
        "baseline": outcome.baseline.metrics,
        "index": outcome.index_metrics,
        "in_sample_end": outcome.in_sample_end,
        **({"split": outcome.split_metrics()} if outcome.in_sample_end is not None else {}),
        **({"after_tax": after_tax} if after_tax is not None else {}),
        "run_id": run_id,
        "artifacts_dir": final,
    }
    if json_output:
        emit_json(result)
        return
    _print_table(outcome)
    if outcome.in_sample_end is not None:
        _print_split(outcome)
    if after_tax is not None:
        _print_after_tax(after_tax)
    console.print(f"artifacts: [bold]{final}[/]")
    if run_id:
        console.print(f"MLflow run: [bold]{run_id}[/] (store: {tracking.tracking_uri()})")


def _run_with_progress(cfg, panel, index_levels, *, quiet: bool,
                       engine: str = "zipline") -> BacktestOutcome:
    from rich.progress import (
        BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
    )

    from autoport.backtest import run_backtest
    from autoport.strategies import make_strategy

    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("sessions"), TimeElapsedColumn(), console=err_console,
        disable=not show_progress(quiet),
        transient=False,
    )
    tasks: dict[str, int] = {}

    def on_progress(label: str, done: int, total: int) -> None:
        if label not in tasks:
            tasks[label] = progress.add_task(f"{engine} {label}", total=total)
        progress.update(tasks[label], completed=done)

    with progress:
        return run_backtest(cfg, panel, make_strategy=make_strategy, index_levels=index_levels,
                            on_progress=on_progress, engine=engine)


def _write_artifacts(outcome: BacktestOutcome, folder: Path) -> None:
    import pandas as pd

    from autoport import reporting

    daily = pd.DataFrame(
        {outcome.strategy.name: outcome.strategy.returns,
         f"baseline_{outcome.baseline.name}": outcome.baseline.returns}
    )
    if outcome.index_returns is not None:
        daily["index_SP500"] = outcome.index_returns.reindex(daily.index)
    daily.index.name = "date"
    daily.to_csv(folder / "daily_returns.csv")
    outcome.strategy.weights.to_csv(folder / "target_weights.csv", index_label="date")
    (folder / "decisions.txt").write_text("\n".join(outcome.strategy.notes) + "\n")
    with open(folder / "decisions.jsonl", "w") as fh:
        for record in outcome.strategy.records:
            fh.write(json.dumps(to_jsonable(record)) + "\n")
    metrics_table = pd.DataFrame(
        {outcome.strategy.name: outcome.strategy.metrics,
         f"1/N ({outcome.baseline.name})": outcome.baseline.metrics,
         **({"S&P 500 index": outcome.index_metrics} if outcome.index_metrics else {})}
    )
    metrics_table.to_csv(folder / "metrics.csv", index_label="metric")
    curves = {outcome.strategy.name: outcome.strategy.returns, "1/N": outcome.baseline.returns}
    if outcome.index_returns is not None:
        curves["S&P 500"] = outcome.index_returns
    references = " and ".join(name for name in curves if name != outcome.strategy.name)
    title = (f"{outcome.strategy.name} vs {references}, {outcome.start.date()} to "
             f"{outcome.end.date()}")
    if outcome.in_sample_end is not None:
        title += f" (in sample to {outcome.in_sample_end.date()}, shaded)"
    reporting.save_comparison(curves, folder / "comparison.png", title,
                              in_sample_end=outcome.in_sample_end)
    if not outcome.strategy.weights.empty:
        reporting.save_weights(outcome.strategy.weights, folder / "weights.png",
                               f"{outcome.strategy.name} target weights")
    reporting.save_tear_sheet(outcome.strategy.returns, outcome.index_returns,
                              folder / "tear_sheet.png", name=outcome.strategy.name,
                              baseline=outcome.baseline.returns)
    regimes = {r["date"]: r["regime"] for r in outcome.strategy.records if "regime" in r}
    if regimes:
        positions = outcome.strategy.positions
        gross = positions.drop(columns="cash", errors="ignore").sum(axis=1)
        exposure = (gross / positions.sum(axis=1)).clip(lower=0)
        reporting.save_regime_timeline(
            (1.0 + outcome.strategy.returns).cumprod(), pd.Series(regimes).sort_index(),
            exposure, folder / "regime_timeline.png",
            f"{outcome.strategy.name}: regime acted on at each decision",
        )


def _write_autopilot_report(outcome: BacktestOutcome, panel: pd.DataFrame, folder: Path) -> dict:
    """The autopilot's decisions in plain sentences, its attribution vs 1/N, and pre- and
    after-tax returns of the autopilot and 1/N (same tax book and rates); returns the latter."""
    from autoport import data
    from autoport.autopilot import report

    records = json.loads(json.dumps(to_jsonable(outcome.strategy.records)))
    sectors = data.sector_map() if set(panel.columns) <= set(data.sector_map()) else {
        t: t for t in panel.columns}
    rep = report.build(outcome, panel, sectors, records)
    (folder / "decisions.md").write_text(rep.decisions_md)
    (folder / "attribution.json").write_text(json.dumps(to_jsonable(rep.attribution), indent=2))
    (folder / "after_tax.json").write_text(json.dumps(to_jsonable(rep.after_tax), indent=2))
    rep.after_tax_returns.to_csv(folder / "daily_returns_after_tax.csv", index_label="date")
    # stdout and MLflow get the figures; the year-by-year table stays in after_tax.json
    brief = {k: ({n: x for n, x in v.items() if n != "years"} if isinstance(v, dict) else v)
             for k, v in rep.after_tax.items()}
    return json.loads(json.dumps(to_jsonable(brief)))


def _after_tax_metrics(after_tax: dict | None) -> dict:
    if not after_tax:
        return {}
    keys = ("pre_tax_return", "after_tax_return", "after_tax_annual_return", "taxes_paid",
            "taxes_paid_share")
    return {f"{prefix}{k}": after_tax[side][k] for side, prefix in
            (("strategy", ""), ("baseline", "baseline_")) for k in keys}


def _print_after_tax(after_tax: dict) -> None:
    table = Table(title="pre-tax and after-tax (same tax-lot book and rates for both)")
    table.add_column("")
    for key in ("total pre-tax", "total after-tax", "annual pre-tax", "annual after-tax",
                "taxes paid", "of capital"):
        table.add_column(key, justify="right")
    for side, name in (("strategy", after_tax["strategy_name"]), ("baseline", "1/N")):
        f = after_tax[side]
        table.add_row(name, f"{f['pre_tax_return']:.2%}",
                      f"{f['after_tax_return']:.2%}", f"{f['pre_tax_annual_return']:.2%}",
                      f"{f['after_tax_annual_return']:.2%}", f"{f['taxes_paid']:,.0f}",
                      f"{f['taxes_paid_share']:.2%}")
    console.print(table)
    console.print(f"[dim]{after_tax['method']}[/]")


def _print_table(outcome: BacktestOutcome) -> None:
    from autoport.metrics import METRIC_KEYS

    sample = ("out of sample" if outcome.in_sample_end is None else
              f"IN SAMPLE to {outcome.in_sample_end.date()}: see the split below")
    table = Table(title=f"{outcome.strategy.name}: {outcome.start.date()} to {outcome.end.date()}"
                  f" ({sample}, after costs)")
    table.add_column("metric")
    columns = [(outcome.strategy.name, outcome.strategy.metrics),
               ("1/N", outcome.baseline.metrics)]
    if outcome.index_metrics:
        columns.append(("S&P 500", outcome.index_metrics))
    for name, _ in columns:
        table.add_column(name, justify="right")
    for key in METRIC_KEYS:
        cells = []
        for _, figures in columns:
            value = figures.get(key, float("nan"))
            if value != value:
                cells.append("n/a")
            elif key in PERCENT_KEYS:
                cells.append(f"{value:.2%}")
            else:
                cells.append(f"{value:.3f}")
        table.add_row(key, *cells)
    console.print(table)


def _print_split(outcome: BacktestOutcome) -> None:
    """The same figures on the sessions the model or selection saw, and on the rest."""
    split = outcome.split_metrics()
    table = Table(title=f"{outcome.strategy.name}: in sample (to {outcome.in_sample_end.date()},"
                  " the model's own training/selection data) vs out of sample")
    table.add_column("part")
    table.add_column("sessions")
    for key in ("annual_return", "sharpe", "max_drawdown"):
        table.add_column(key, justify="right")
        table.add_column(f"1/N {key}", justify="right")
    for label in ("in_sample", "out_of_sample"):
        part = split[label]
        if part is None:
            table.add_row(label.replace("_", " "), "none")
            continue
        cells = []
        for key in ("annual_return", "sharpe", "max_drawdown"):
            for figures in (part["metrics"], part["baseline"]):
                value = figures.get(key, float("nan"))
                cells.append("n/a" if value != value else
                             f"{value:.2%}" if key in PERCENT_KEYS else f"{value:.3f}")
        table.add_row(label.replace("_", " "),
                      f"{part['start'].date()}..{part['end'].date()}", *cells)
    console.print(table)
