"""``autoport train-agent``: train the DQN allocator, evaluate it by the protocol, log it."""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from autoport_cli.common import (
    AllowJumpsOption, EndOption, FfillOption, JsonOption, OutOption, PricesOption, StartOption,
    bundled_config, console, emit_json, err_console, load_prices, output_dir,
    to_jsonable, user_errors,
)
from autoport_cli.choices import AGENT
from autoport_cli.common import check_tracking, counting, show_progress, waiting

if TYPE_CHECKING:  # torch and stable-baselines3 load when training starts
    from autoport.strategies.dqn.train import TrainingResult

EXPERIMENT = "agents"
SHORT = {"equal_weight": "EW", "min_variance": "MV", "max_sharpe": "MS", "risk_parity": "RP",
         "inverse_vol": "IV", "momentum_tilt": "MOM", "low_vol_tilt": "LV", "defensive": "DEF"}


@user_errors
def train_agent(
    config: Annotated[Path | None, typer.Option(
        help="YAML config, e.g. configs/dqn.yaml; options override it",
        show_default="the built-in settings (those of configs/dqn.yaml)")] = None,
    timesteps: Annotated[int | None, typer.Option(
        help="environment steps to train", show_default=str(AGENT["timesteps"]))] = None,
    seed: Annotated[int | None, typer.Option(
        min=0, help="random seed (SB3, torch, episode starts)",
        show_default=str(AGENT["seed"]))] = None,
    prices: PricesOption = None,
    ffill: FfillOption = False,
    start: StartOption = None,
    end: EndOption = None,
    allow_jumps: AllowJumpsOption = False,
    out: OutOption = None,
    json_output: JsonOption = False,
    track: Annotated[bool, typer.Option(
        "--track/--no-track", help="log the run and the model to MLflow")] = True,
    regime_model: Annotated[str | None, typer.Option(
        help="run id of `autoport regime`: its model adds regime probabilities to the "
             "observation (sessions it was trained on are left out)",
        show_default="none")] = None,
    seeds: Annotated[int, typer.Option(
        min=1, help="also train seeds SEED+1 .. SEED+N-1 and report the test success rate's "
                    "mean and standard deviation over the N seeds (the logged model is SEED's)"
    )] = 1,
) -> None:
    """Train a DQN over a menu of allocations; report the test success rate beside baselines."""
    from autoport import data, tracking
    from autoport.strategies.dqn.config import load_config
    from autoport.strategies.dqn.train import train

    cfg = load_config(bundled_config(config), {"timesteps": timesteps, "seed": seed}, regime_model=regime_model)
    check_tracking(track)
    panel = load_prices(prices, start=start, end=end, min_history=cfg.env.history_needed + 2,
                        ffill=ffill, allow_jumps=allow_jumps, ragged=True,
                        too_short="pass a longer history (an earlier --start or a later --end), "
                                  "or a shorter env window in a --config file")

    def on_eval(point: dict) -> None:
        if not json_output:
            err_console.print(
                f"validation @ {point['step']:>7} steps: success {point['success_rate']:.0%}, "
                f"Sharpe - 1/N {point['mean_excess_sharpe']:+.3f}, "
                f"top action share {point['most_common_share']:.0%}", highlight=False)

    from autoport.envs import menus

    with waiting("decision menus (built once per prices and menu settings, then cached)",
                 quiet=json_output):
        menus.table(panel, cfg.env)
    # SB3's progress bar prints to stdout: send it to stderr with the other progress output
    with contextlib.ExitStack() as after_learning, \
            contextlib.redirect_stdout(sys.stderr):  # SB3's bar has closed when it is called
        result = train(panel, cfg, progress_bar=show_progress(json_output), on_eval=on_eval,
                       on_phase=lambda text: after_learning.enter_context(
                           waiting(text, quiet=json_output)))
    spread = _seed_spread(panel, cfg, result, seeds, json_output) if seeds > 1 else None
    with output_dir(out, "train-agent") as (staging, final):
        _write_artifacts(result, staging)
        if spread is not None:
            import pandas as pd

            pd.DataFrame(spread["runs"]).to_csv(staging / "seeds.csv", index=False)
        run_id = model_uri = None
        if track:
            with tempfile.TemporaryDirectory() as tmp:
                model_artifacts = result.mapper.save(Path(tmp) / "policy")
                from autoport.strategies.dqn.pyfunc import model_log_kwargs

                run_id, model_uri = tracking.log_model_run(
                    EXPERIMENT,
                    run_name=f"dqn-seed{cfg.seed}-{result.timesteps}",
                    params={**_flatten(cfg.model_dump(mode="json")),
                            "data_hash": data.content_hash(panel),
                            "data_source": str(prices) if prices else "bundled:sp500_dataset",
                            "timesteps_done": result.timesteps, "best_step": result.best_step},
                    metrics={**_metrics(result), **({
                        "test_success_rate_seed_mean": spread["success_rate_mean"],
                        "test_success_rate_seed_sd": spread["success_rate_sd"]}
                        if spread is not None else {})},
                    curves=_curves(result),
                    model_artifacts=model_artifacts,
                    **model_log_kwargs(Path(tmp) / "code"),
                    artifacts_dir=staging,
                    tags={"command": "train-agent", "strategy": "dqn"},
                    config=cfg.model_dump(mode="json"),
                )
    test = result.test
    payload = {
        "run_id": run_id,
        "model_uri": model_uri,
        "timesteps": result.timesteps,
        "best_step": result.best_step,
        "wall_seconds": result.wall_seconds,
        "success_rate": test["success_rate"],
        "target_success_rate": test["target_success_rate"],
        "sharpe": test["sharpe"],
        "max_drawdown": test["max_drawdown"],
        "episodes": test["episodes"],
        "baselines": test["baselines"],
        "action_distribution": test["action_distribution"],
        "action_counts": test["action_counts"],
        "switch_rate": test["switch_rate"],
        "switches_per_episode": test["switches_per_episode"],
        "most_common_action": test["most_common_action"],
        "most_common_share": test["most_common_share"],
        "dominant_action": test["dominant_action"],
        "validation_success_rate": result.validation.get("success_rate"),
        "validation_mean_excess_sharpe": result.validation.get("mean_excess_sharpe"),
        "validation_baselines": result.validation.get("baselines"),
        "artifacts_dir": final,
        **({"seeds": spread} if spread is not None else {}),
    }
    if json_output:
        emit_json(payload)
        return
    _print(result)
    if spread is not None:
        _print_spread(spread)
    else:
        console.print(f"seed {cfg.seed} is one draw: `--seeds 5` also trains seeds "
                      f"{cfg.seed + 1}..{cfg.seed + 4} and reports the spread", highlight=False)
    console.print(f"artifacts: [bold]{final}[/]")
    if run_id:
        console.print(f"MLflow run: [bold]{run_id}[/]; model: [bold]{model_uri}[/]")


def _seed_spread(panel, cfg, first: TrainingResult, n: int, quiet: bool) -> dict:
    """Test figures of seeds ``cfg.seed`` .. ``cfg.seed + n - 1`` (the first is ``first``):
    one seed's success rate is one draw; the spread says how far another seed may land."""
    import numpy as np

    from autoport.strategies.dqn.train import train

    runs = [first]
    with counting("other seeds", "trained", quiet=quiet) as advance:
        advance(0, n - 1)
        for k in range(1, n):
            runs.append(train(panel, cfg.model_copy(update={"seed": cfg.seed + k})))
            advance(k, n - 1)
    rates = np.array([r.test["success_rate"] for r in runs])
    return {
        "runs": [{"seed": r.config.seed, "success_rate": r.test["success_rate"],
                  "sharpe": r.test["sharpe"], "best_step": r.best_step,
                  "validation_success_rate": r.validation.get("success_rate"),
                  "switch_rate": r.test["switch_rate"]} for r in runs],
        "success_rate_mean": float(rates.mean()),
        "success_rate_sd": float(rates.std(ddof=1)),
        "n_seeds": n,
    }


def _print_spread(spread: dict) -> None:
    table = Table(title=f"test success over {spread['n_seeds']} seeds")
    for column in ("seed", "success rate", "Sharpe", "best validation", "switch rate"):
        table.add_column(column, justify="right")
    for r in spread["runs"]:
        table.add_row(str(r["seed"]), f"{r['success_rate']:.1%}", f"{r['sharpe']:.3f}",
                      f"{r['validation_success_rate']:.0%}", f"{r['switch_rate']:.0%}")
    console.print(table)
    console.print(f"test success rate: mean {spread['success_rate_mean']:.1%} ± "
                  f"{spread['success_rate_sd']:.1%} (sample sd over {spread['n_seeds']} seeds)")


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _metrics(result: TrainingResult) -> dict[str, float]:
    test, val = result.test, result.validation
    out = {f"test_{k}": test[k] for k in (
        "success_rate", "sharpe", "max_drawdown", "mean_excess_sharpe", "switch_rate",
        "switches_per_episode", "most_common_share")}
    out.update({f"test_action_share_{k}": v for k, v in test["action_distribution"].items()})
    out.update({f"validation_{k}": val.get(k, float("nan")) for k in (
        "success_rate", "sharpe", "mean_excess_sharpe")})
    for name, figures in test["baselines"].items():
        out.update({f"test_{name}_{k}": v for k, v in figures.items()})
    out["timesteps_done"] = result.timesteps
    out["wall_seconds"] = result.wall_seconds
    return out


def _curves(result: TrainingResult) -> dict[str, list[tuple[int, float]]]:
    curves = {"train_episode_reward": result.train_curve}
    for key in ("success_rate", "mean_excess_sharpe", "most_common_share"):
        curves[f"validation_curve_{key}"] = [(p["step"], p[key]) for p in result.validation_curve]
    return curves


def _write_artifacts(result: TrainingResult, folder: Path) -> None:
    import pandas as pd
    import yaml

    episodes = pd.DataFrame(result.test["episodes"])
    episodes["actions"] = episodes["actions"].map(" ".join)
    episodes.to_csv(folder / "test_episodes.csv", index=False)
    pd.DataFrame(result.validation_curve).to_csv(folder / "validation_curve.csv", index=False)
    pd.DataFrame(result.train_curve, columns=["step", "episode_reward"]).to_csv(
        folder / "train_curve.csv", index=False)
    from autoport import reporting

    reporting.save_training_curve(
        result.validation_curve, result.train_curve, folder / "training_curve.png",
        best_step=result.best_step,
        target_success_rate=result.config.protocol.target_success_rate)
    summary = {k: v for k, v in result.test.items() if k not in ("episodes", "returns")}
    result.test["returns"].to_csv(folder / "test_returns.csv", index_label="date")
    (folder / "test_evaluation.json").write_text(json.dumps(to_jsonable(summary), indent=2))
    (folder / "config.yaml").write_text(
        yaml.safe_dump(result.config.model_dump(mode="json"), sort_keys=False))


def _print(result: TrainingResult) -> None:
    test = result.test
    table = Table(title=f"test episodes ({test['n_episodes']} x "
                  f"{result.config.protocol.episode_sessions} sessions): Sharpe and agent "
                  f"max drawdown; actions {', '.join(f'{v}={k}' for k, v in SHORT.items())}")
    for column in ("start", "agent", "1/N", "max Sh.", "min var", "agent DD", "ok", "switches",
                   "actions"):
        table.add_column(column, justify="right", no_wrap=True)
    for e in test["episodes"]:
        table.add_row(str(e["start"].date()), f"{e['sharpe']:.2f}",
                      f"{e['equal_weight_sharpe']:.2f}", f"{e['max_sharpe_sharpe']:.2f}",
                      f"{e['min_variance_sharpe']:.2f}", f"{e['max_drawdown']:.1%}",
                      "yes" if e["success"] else "no", str(e["switches"]),
                      " ".join(SHORT.get(a, a) for a in e["actions"]))
    console.print(table)
    summary = Table(title="success rate (max DD within "
                    f"{result.config.protocol.max_drawdown_limit:.0%} and Sharpe > 1/N)")
    for column in ("policy", "success rate", "Sharpe", "max DD"):
        summary.add_column(column, justify="right")
    summary.add_row("DQN agent", f"{test['success_rate']:.0%}", f"{test['sharpe']:.3f}",
                    f"{test['max_drawdown']:.1%}")
    for name, f in test["baselines"].items():
        summary.add_row(name, f"{f['success_rate']:.0%}", f"{f['sharpe']:.3f}",
                        f"{f['max_drawdown']:.1%}")
    console.print(summary)
    target = test["target_success_rate"]
    verdict = "reached" if test["success_rate"] > target else "NOT reached"
    console.print(f"target success rate above {target:.0%}: {verdict}")
    actions = Table(title=f"test actions ({test['decisions']} decisions)")
    for column in ("action", "decisions", "share"):
        actions.add_column(column, justify="right")
    for name, share in test["action_distribution"].items():
        actions.add_row(name, str(test["action_counts"][name]), f"{share:.0%}")
    console.print(actions)
    console.print(f"action changes: {test['switches_per_episode']:.1f} per episode "
                  f"(switch rate {test['switch_rate']:.0%} of consecutive decisions)")
    if test["dominant_action"] is not None:
        console.print(f"[bold red]warning[/]: one action dominates: {test['dominant_action']} "
                      f"is {test['most_common_share']:.0%} of the decisions (> 80%); the "
                      "policy barely chooses")
    console.print(f"trained {result.timesteps} steps in {result.wall_seconds:.0f} s; "
                  f"best validation at step {result.best_step}")
