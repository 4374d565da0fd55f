"""``autoport walk-forward``: a strategy's out-of-sample Sharpe over many folds, beside 1/N."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from autoport_cli.choices import Strategy, WalkForwardScheme, value
from autoport_cli.common import (
    AllowJumpsOption, FfillOption, JsonOption, TrackOption, OutOption, PricesOption,
    check_tracking, console, emit_json, err_console, load_prices, output_dir, user_errors,
)

EXPERIMENT = "walk-forward"


@user_errors
def walk_forward(
    strategy: Annotated[Strategy | None, typer.Option(
        help="the strategy to test (dqn needs --model); default: the config's",
        show_default="the config's")] = None,
    config: Annotated[Path | None, typer.Option(
        help="backtest YAML (strategy settings, costs, rebalance), e.g. configs/backtest.yaml")
    ] = None,
    scheme: Annotated[WalkForwardScheme, typer.Option(
        help="cpcv (combinatorial purged CV), rolling or expanding walk-forward")
    ] = WalkForwardScheme.cpcv,
    groups: Annotated[int, typer.Option(help="cpcv: consecutive groups")] = 6,
    test_groups: Annotated[int, typer.Option(help="cpcv: groups tested in each fold")] = 2,
    train: Annotated[int | None, typer.Option(
        help="rolling/expanding: (first) training window in sessions; default the "
             "strategy's minimum history")] = None,
    test: Annotated[int, typer.Option(help="rolling/expanding: sessions a test window")] = 252,
    purge: Annotated[int, typer.Option(
        help="sessions dropped from estimation before (and, cpcv, after) each test block")] = 21,
    embargo: Annotated[int, typer.Option(
        help="cpcv: further sessions dropped after each test block")] = 21,
    warmup: Annotated[int | None, typer.Option(
        help="cpcv: first sessions kept for estimation only; default minimum history + "
             "purge")] = None,
    start: Annotated[str | None, typer.Option(help="first session used (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, typer.Option(help="last session used (YYYY-MM-DD)")] = None,
    model: Annotated[str | None, typer.Option(
        help="--strategy dqn: runs:/RUN_ID/model or models:/NAME@alias")] = None,
    address: Annotated[str | None, typer.Option(
        help="Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: RAY_ADDRESS, else a "
             "local Ray started here)")] = None,
    num_cpus: Annotated[int | None, typer.Option(
        help="CPUs of the local Ray (default: all cores)")] = None,
    prices: PricesOption = None,
    ffill: FfillOption = False,
    allow_jumps: AllowJumpsOption = False,
    out: OutOption = None,
    json_output: JsonOption = False,
    track: TrackOption = True,
) -> None:
    """Trade the strategy and 1/N on every fold's test sessions (fast engine, one Ray task a
    fold; each decision sees only purged, embargoed past data) and compare their fold Sharpe
    ratios."""
    from autoport import data, tracking
    from autoport.backtest import load_config
    from autoport.errors import ConfigError
    from autoport.strategies import make_strategy
    from autoport.strategies.registry import check_strategy_name
    from autoport.sweep.runner import ray_session
    from autoport.walkforward import WalkForwardSettings, check_history, plan, run_folds

    cfg = load_config(config, {"strategy": value(strategy)})
    check_strategy_name(cfg.strategy)
    if cfg.strategy == "equal_weight":
        raise ConfigError("--strategy equal_weight is the 1/N baseline every fold already "
                          "runs; choose another strategy")
    if model is not None:
        cfg = cfg.model_copy(update={"strategy_params": {**cfg.strategy_params,
                                                         "model_uri": model}})
    elif cfg.strategy == "dqn" and "model_uri" not in cfg.strategy_params:
        raise ConfigError("--strategy dqn needs --model runs:/RUN_ID/model (a trained agent)")
    from autoport import configfile

    settings = configfile.validate(WalkForwardSettings, {
        "scheme": value(scheme), "groups": groups, "test_groups": test_groups, "train": train,
        "test": test, "purge": purge, "embargo": embargo, "warmup": warmup},
        "walk-forward settings")
    check_tracking(track)
    # a ragged file (late listings, delistings) as in backtest: each decision holds the assets
    # with the strategy's window of prices (decision.decide_investable), 1/N the listed ones
    panel = load_prices(prices, start=start, end=end, min_history=60, ffill=ffill,
                        allow_jumps=allow_jumps, ragged=True,
                        too_short="pass a longer history (an earlier --start or a later --end)")
    probe = make_strategy(cfg.strategy, **cfg.strategy_arguments())
    seen = getattr(probe, "seen_until", None)
    if seen is not None and panel.index[0] <= seen:
        raise ConfigError(
            f"the {cfg.strategy} model was trained on data up to {seen:%Y-%m-%d}; its folds "
            f"would test it on that data. Pass --start after {seen:%Y-%m-%d}")
    layout = plan(len(panel), settings, probe.min_history)
    check_history(layout.folds, layout.warmup, settings.purge, probe.min_history, cfg.strategy)
    done = _progress(len(layout.folds), quiet=json_output)
    with ray_session(address, num_cpus):
        with done as on_fold:
            result = run_folds(panel, layout.folds, warmup=layout.warmup, purge=settings.purge,
                               config=cfg, make_strategy=make_strategy, scheme=settings.scheme,
                               settings=layout.settings.model_dump(mode="json"),
                               on_fold=on_fold)
    summary = result.summary()
    table = result.table()
    with output_dir(out, f"walk-forward-{cfg.strategy}") as (staging, final):
        from autoport import reporting

        table.to_csv(staging / "folds.csv", index=False)
        result.sharpes().to_csv(staging / "fold_sharpes.csv")
        reporting.save_fold_sharpes(
            result.sharpes(), staging / "fold_sharpes.png",
            f"{cfg.strategy} vs 1/N: out-of-sample Sharpe of {len(result.folds)} "
            f"{settings.scheme.value} folds, {panel.index[0]:%Y-%m-%d}..{panel.index[-1]:%Y-%m-%d}")
        run_id = None
        if track:
            run_id = tracking.log_walk_forward(
                EXPERIMENT, run_name=f"walk-forward-{cfg.strategy}-{settings.scheme.value}",
                params={**{f"wf.{k}": v
                           for k, v in layout.settings.model_dump(mode="json").items()},
                        "strategy": cfg.strategy, "engine": "sim", "folds": len(result.folds),
                        "data_hash": data.content_hash(panel),
                        "data_source": str(prices) if prices else "bundled:sp500_dataset",
                        "start_effective": str(panel.index[0].date()),
                        "end_effective": str(panel.index[-1].date())},
                metrics=result.metrics(),
                folds=[{"name": f"fold-{f.fold}", "params": {
                    "groups": " ".join(map(str, f.groups)),
                    "test": "; ".join(f"{a.date()}..{b.date()}" for a, b in f.periods)},
                    "metrics": {**{f"strategy_{k}": v for k, v in f.strategy.items()},
                                **{f"baseline_{k}": v for k, v in f.baseline.items()}}}
                    for f in result.folds],
                artifacts_dir=staging,
                tags={"command": "walk-forward", "strategy": cfg.strategy, "engine": "sim"},
                config={"backtest": cfg.model_dump(mode="json"),
                        "walk_forward": layout.settings.model_dump(mode="json")},
                dataset=panel)
    payload = {"strategy": cfg.strategy, "scheme": settings.scheme.value,
               "settings": layout.settings.model_dump(mode="json"), "summary": summary,
               "folds": table.to_dict(orient="records"), "run_id": run_id,
               "artifacts_dir": final}
    if json_output:
        emit_json(payload)
        return
    _print(result, summary)
    console.print(f"artifacts: [bold]{final}[/]")
    if run_id:
        console.print(f"MLflow run: [bold]{run_id}[/] (store: {tracking.tracking_uri()})")


def _progress(total: int, quiet: bool):
    """A context yielding ``on_fold(done, total)``: a bar on stderr (off for --json / no tty)."""
    import contextlib

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    @contextlib.contextmanager
    def bar():
        progress = Progress(TextColumn("[bold]folds"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=err_console,
                            disable=quiet or not err_console.is_terminal)
        with progress:
            task = progress.add_task("folds", total=total)
            yield lambda done, _total: progress.update(task, completed=done)

    return bar()


def _print(result, summary: dict) -> None:
    s = result.settings
    layout = (f"{len(result.folds)} CPCV folds ({s['groups']} groups, {s['test_groups']} "
              f"tested; purge {s['purge']}, embargo {s['embargo']}, warm-up {s['warmup']})"
              if result.scheme.value == "cpcv" else
              f"{len(result.folds)} {result.scheme.value} folds (train {s['train']}, test "
              f"{s['test']}, purge {s['purge']})")
    table = Table(title=f"out-of-sample Sharpe per fold: {layout}, fast engine, after costs")
    for column in ("", "median", "IQR (q25..q75)", "mean", "min", "max", "folds"):
        table.add_column(column, justify="right" if column else "left")
    for name, f in summary.items():
        table.add_row(name, f"{f['median']:.3f}",
                      f"{f['iqr']:.3f} ({f['q25']:.2f}..{f['q75']:.2f})",
                      f"{f['mean']:.3f}", f"{f['min']:.2f}", f"{f['max']:.2f}", str(f["folds"]))
    console.print(table)
    mine = summary[result.strategy]
    console.print(f"{result.strategy} beat 1/N on {mine['share_beating_baseline']:.0%} of the "
                  f"folds (median difference in Sharpe {mine['median_difference']:+.3f})")
