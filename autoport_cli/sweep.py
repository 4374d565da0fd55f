"""``autoport sweep SPEC.yaml``: search settings on Ray, score on validation, test the winner once."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from autoport_cli.common import (
    AllowJumpsOption, EndOption, FfillOption, JsonOption, OutOption, PricesOption,
    check_tracking, console, emit_json, err_console, load_prices, output_dir, user_errors,
)

EXPERIMENT = "sweeps"


@user_errors
def sweep(
    spec_file: Annotated[Path, typer.Argument(help="sweep spec (YAML), e.g. experiments/sweeps/mpt.yaml")],
    address: Annotated[str | None, typer.Option(
        help="Ray cluster: auto, HOST:PORT or ray://HOST:PORT",
        show_default="RAY_ADDRESS, else a local Ray started here")] = None,
    num_cpus: Annotated[int | None, typer.Option(
        help="CPUs of the local Ray", show_default="all cores")] = None,
    seed: Annotated[int, typer.Option(help="seed of the search itself (which settings are drawn)")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="continue an interrupted sweep of "
                                         "the same spec from Ray Tune's saved state")] = False,
    prices: PricesOption = None,
    start: Annotated[str | None, typer.Option(
        "--start", help="first date of the prices every trial reads (YYYY-MM-DD); the spec's "
        "periods must lie inside --start..--end", show_default="the first date of the prices")
    ] = None,
    end: EndOption = None,
    ffill: FfillOption = False,
    allow_jumps: AllowJumpsOption = False,
    out: OutOption = None,
    json_output: JsonOption = False,
    track: Annotated[bool, typer.Option(
        "--track/--no-track",
        help="log the sweep to MLflow (a parent run, a child run per trial)")] = True,
) -> None:
    """Search a strategy's settings on the validation period (Ray Tune), then test the winner
    once through zipline, with its deflated Sharpe ratio and the probability of overfitting."""
    from autoport import configfile, data, tracking, workspace
    from autoport.sweep.runner import SweepInterrupted, ray_session
    from autoport.sweep.spec import Target, check_periods_within, load_spec, trial_count

    check_tracking(track)
    spec = load_spec(spec_file)
    base, _ = configfile.read_mapping(_base_path(spec.base_config, spec_file))
    agent = spec.target is Target.TRAIN_AGENT
    # --start/--end narrow the prices of every trial; the spec's periods must lie inside them
    short = "pass a longer history (an earlier --start or a later --end)"
    if agent:
        from autoport.strategies.dqn.sweep import agent_periods, check_agent_spec

        check_periods_within(agent_periods(base), start, end)
        panel = load_prices(prices, start=start, end=end, min_history=60, ffill=ffill,
                            allow_jumps=allow_jumps, ragged=True, too_short=short)
        check_agent_spec(spec, base)
        index_levels = None
    else:
        from autoport.strategies import make_strategy
        from autoport.sweep.backtest_target import check_backtest_spec

        check_periods_within({"validation": (spec.validation.start, spec.validation.end),
                              "test": (spec.test.start, spec.test.end)}, start, end)
        panel = load_prices(prices, start=start, end=str(spec.test.end), min_history=60,
                            ffill=ffill, allow_jumps=allow_jumps, ragged=True, too_short=short)
        index_levels = data.bundled_benchmark() if prices is None else None
        check_backtest_spec(spec, base, panel, make_strategy)
    name = f"{spec_file.stem}-{data.content_hash(panel)[:8]}-seed{seed}"
    storage = workspace.home() / "ray_results"
    what = "train-agent" if agent else spec.strategy
    parent = (tracking.sweep_parent(EXPERIMENT, f"sweep-{spec_file.stem}",
                                    {"command": "sweep", "strategy": what})
              if track else contextlib.nullcontext())
    try:
        with parent as parent_id:
            with ray_session(address, num_cpus):
                if not json_output:
                    period = ("the agent's validation period" if agent else
                              f"{spec.validation.start}..{spec.validation.end}")
                    err_console.print(
                        f"[bold]sweep[/] {trial_count(spec)} trial(s) x {len(spec.seeds)} "
                        f"seed(s) on {period} ({spec.search.value} search"
                        + (", ASHA" if spec.scheduler else "")
                        + f", Ray Tune state in {storage / name})")
                if agent:
                    from autoport.strategies.dqn.sweep import sweep_agent

                    report = sweep_agent(spec, base, panel, storage=storage, name=name,
                                         seed=seed, resume=resume)
                else:
                    from autoport.sweep.backtest_target import sweep_backtest

                    report = sweep_backtest(spec, base, panel, make_strategy=make_strategy,
                                            index_levels=index_levels, storage=storage,
                                            name=name, seed=seed, resume=resume)
            board = report.result.leaderboard()
            if agent:
                chosen = report.chosen
            else:
                chosen = {**_nested_merge(base, report.result.winner.params),
                          "strategy": spec.strategy, "selected_through": spec.validation.end}
            run_id, final = _write_and_log(spec, spec_file, report, board, chosen, base, panel,
                                    prices, out, track, parent_id, what)
    except SweepInterrupted as exc:
        err_console.print(f"[bold yellow]interrupted:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=130) from None
    result = {"winner": report.result.winner.params, "metrics": report.metrics(),
              "leaderboard": board.drop(columns=["error"]).head(10).to_dict(orient="records"),
              "run_id": run_id, "artifacts_dir": final}
    if json_output:
        emit_json(result)
        return
    _print(report, board)
    console.print(f"artifacts: [bold]{final}[/]")
    if run_id:
        console.print(f"MLflow run: [bold]{run_id}[/] (store: {tracking.tracking_uri()})")


def _write_and_log(spec, spec_file, report, board, chosen, base, panel, prices, out, track,
                   parent_id, what):
    """Leaderboard, chosen settings and plot into the run folder; the parent and child runs."""
    import yaml

    from autoport import data, reporting, tracking

    agent = spec.target.value == "train-agent"
    with output_dir(out, f"sweep-{spec_file.stem}") as (staging, final):
        board.to_csv(staging / "leaderboard.csv", index=False)
        command = ("autoport train-agent --config this file`" if agent else
                   "autoport backtest --config this file`\n# (selected_through: backtests "
                   "start after it unless --allow-in-sample; sweep_run_id: promote reads this "
                   "sweep's DSR and PBO)")
        # the link a backtest of these settings carries to this sweep's parent run
        link = {"sweep_run_id": parent_id} if parent_id and not agent else {}
        (staging / "chosen_config.yaml").write_text(
            f"# settings chosen on validation by `autoport sweep`: `{command}\n"
            + yaml.safe_dump({**chosen, **link}, sort_keys=False))
        reporting.save_sweep_plot(board, spec.metric, staging / "sweep.png",
                                  f"{what}: validation {spec.metric} by setting "
                                  f"({len(report.result.succeeded)} trials)")
        if agent:
            (staging / "test.json").write_text(json.dumps(
                [{k: v for k, v in t.items() if k not in ("returns", "episodes")}
                 for t in report.test], indent=2, default=str))
        run_id = None
        if track:
            run_id = tracking.log_sweep(
                EXPERIMENT, run_name=f"sweep-{spec_file.stem}",
                params={**report.params(), "data_hash": data.content_hash(panel),
                        "data_source": str(prices) if prices else "bundled:sp500_dataset"},
                metrics=report.metrics(), trials=_trials_for_tracking(report.result),
                artifacts_dir=staging, tags={"command": "sweep", "strategy": what},
                config=spec.model_dump(mode="json"), dataset=panel, run_id=parent_id)
    return run_id, final


def _base_path(base_config: str | None, spec_file: Path) -> Path | None:
    """The spec's base config, relative to the spec file when not found as given."""
    if base_config is None:
        return None
    path = Path(base_config)
    if not path.exists() and (spec_file.parent / path).exists():
        return spec_file.parent / path
    return path


def _nested_merge(base: dict, point: dict) -> dict:
    from autoport.sweep.spec import apply

    return apply(base, point)


def _trials_for_tracking(result) -> list[dict]:
    return [{"name": t.trial_id, "params": t.params, "status": t.status, "error": t.error,
             "node": t.node,
             "metrics": {**{f"validation_{k}": v for k, v in t.metrics.items()},
                         "score": t.score}} for t in result.trials]


def _print(report, board) -> None:
    spec = report.result.spec
    what = spec.strategy or "the DQN agent"
    table = Table(title=f"sweep of {what}: validation {spec.metric}, best first")
    params = [c for c in board.columns if c.startswith("param.")]
    for col in ["rank", *[p.removeprefix("param.") for p in params], spec.metric, "status"]:
        table.add_column(col, justify="right")
    for _, row in board.head(10).iterrows():
        rank = "" if row["rank"] != row["rank"] or row["rank"] is None else str(int(row["rank"]))
        table.add_row(rank, *[_fmt(row[p]) for p in params], _fmt(row[spec.metric]),
                      row["status"])
    console.print(table)
    m = report.metrics()
    if spec.test is None:  # the agent: its protocol's test episodes, one training per seed
        test = Table(title="chosen settings on the protocol's test episodes (trained once per "
                           f"seed {list(spec.seeds)}, test read once)")
        test.add_column("metric")
        for col in ("agent", "1/N", "max Sharpe", "min variance"):
            test.add_column(col, justify="right")
        for key in ("success_rate", "sharpe"):
            test.add_row(key, *[_fmt(m.get(f"test_{p}{key}"), percent=key == "success_rate")
                                for p in ("", "equal_weight_", "max_sharpe_", "min_variance_")])
        console.print(test)
        console.print(f"target success rate {m['target_success_rate']:.0%}: "
                      + ("reached" if m["test_success_rate"] >= m["target_success_rate"]
                         else "not reached"))
        _print_selection(m)
        return
    test = Table(title=f"chosen settings on the untouched test period "
                       f"{spec.test.start}..{spec.test.end} (run once)")
    test.add_column("metric")
    for col in ("strategy (zipline)", "strategy (fast engine)", "1/N", "S&P 500"):
        test.add_column(col, justify="right")
    for key in ("annual_return", "annual_volatility", "sharpe", "max_drawdown"):
        test.add_row(key, *[_fmt(m.get(f"{prefix}{key}"), percent=key != "sharpe")
                            for prefix in ("test_", "test_fast_", "test_baseline_",
                                           "test_index_")])
    console.print(test)
    _print_selection(m)


def _print_selection(m: dict) -> None:
    pbo = m.get("pbo")
    stopped = int(m.get("n_trials_stopped", 0))
    console.print(
        f"deflated Sharpe ratio {m['deflated_sharpe']:.3f} (probability that the winner's "
        f"validation Sharpe is above zero after {int(m['n_trials_ok'])} trials); PBO "
        + (f"{pbo:.2f}" if pbo is not None else "n/a (fewer than 2 trials)")
        + (f"; {int(m['n_trials_failed'])} trial(s) failed (see leaderboard.csv)"
           if m["n_trials_failed"] else "")
        + (f"; {stopped} trial(s) stopped early by ASHA" if stopped else ""))


def _fmt(value, percent: bool = False) -> str:
    if value is None or value != value:
        return "n/a"
    if percent:
        return f"{value:.2%}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
