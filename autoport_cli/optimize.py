"""``autoport optimize``: one objective under a constraint set, plus the efficient frontier.

A shell: merges ``--config``/``--constraints`` YAML with the options, estimates μ and Σ on the
window, calls :mod:`autoport.optimize`, renders rich tables, writes ``--json``, saves the
frontier (CSV + PNG) and weights into the output folder and logs the run to MLflow.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from autoport import data, estimators, tracking
from autoport.errors import ConfigError, OptimizationError
from autoport.optimize import (
    Objective,
    add_cash,
    efficient_frontier,
    pareto_front,
)
from autoport.optimize import config as cfgmod
from autoport.optimize import optimize as run_optimize
from autoport.optimize.insample import path_statistics
from autoport_cli.common import (
    JsonOption, NoTrackOption, OutOption, PricesOption,
    console,
    emit_json,
    load_prices,
    output_dir,
    to_jsonable,
    user_errors,
)
from autoport_cli.common import check_tracking

EXPERIMENT = "optimize"


def register(app: typer.Typer) -> None:
    app.command("optimize")(optimize)


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
        str | None, typer.Option("--objective", help=" | ".join(o.value for o in Objective))
    ] = None,
    constraints: Annotated[
        Path | None, typer.Option("--constraints", help="constraints YAML (see configs/)")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="optimize settings YAML")] = None,
    frontier_points: Annotated[
        int | None, typer.Option("--frontier-points", help="frontier points (0 = none, ≤1000)")
    ] = None,
    returns_model: Annotated[
        str | None, typer.Option("--returns-model", help=" | ".join(estimators.RETURN_MODELS))
    ] = None,
    risk_model: Annotated[
        str | None, typer.Option("--risk-model", help=" | ".join(estimators.RISK_MODELS))
    ] = None,
    prices: PricesOption = None,
    window: Annotated[
        str | None, typer.Option("--window", help="sessions before --as-of, or 'all' (756)")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="last date of the estimation window")
    ] = None,
    risk_free: Annotated[
        float | None, typer.Option("--risk-free", help="annual risk-free rate, e.g. 0.02")
    ] = None,
    target_return: Annotated[
        float | None, typer.Option("--target-return", help="annual, for efficient_return")
    ] = None,
    target_volatility: Annotated[
        float | None, typer.Option("--target-volatility", help="annual, for efficient_risk")
    ] = None,
    risk_tolerance: Annotated[
        float | None, typer.Option("--risk-tolerance", help="0..1, for max_utility/mean_cvar")
    ] = None,
    kelly_fraction: Annotated[
        float | None, typer.Option("--kelly-fraction", help="0..1, for kelly")
    ] = None,
    pareto: Annotated[
        str | None,
        typer.Option("--pareto", help="Pareto set of two measures, e.g. return,cdar "
                     "(return | variance | cvar | cdar)"),
    ] = None,
    as_json: JsonOption = False,
    out: OutOption = None,
    no_track: NoTrackOption = False,
) -> None:
    """Optimal weights for one objective and the efficient frontier, on annualised estimates."""
    overrides = {
        "objective": objective, "frontier_points": frontier_points,
        "returns_model": returns_model, "risk_model": risk_model, "window": _window(window),
        "as_of": as_of, "risk_free_rate": risk_free, "target_return": target_return,
        "target_volatility": target_volatility, "risk_tolerance": risk_tolerance,
        "kelly_fraction": kelly_fraction,
        "pareto": [p.strip() for p in pareto.split(",")] if pareto else None,
    }
    cfg = cfgmod.load_config(config, constraints, overrides)
    check_tracking(not no_track)
    obj = Objective.parse(cfg.objective)
    need = 31 if cfg.window == "all" else cfg.window + 1
    panel = load_prices(prices, end=cfg.as_of, min_history=need)
    if cfg.window != "all":
        panel = panel.iloc[-(cfg.window + 1):]
    tickers = list(panel.columns)
    rf = cfg.risk_free_rate

    cov = estimators.risk_matrix(panel, cfg.risk_model)
    mu = estimators.expected_returns(
        panel, cfg.returns_model, risk_free_rate=rf, views=cfgmod.views(cfg),
        market_caps=cfg.market_caps, cov=cov,
    )
    sectors = data.sector_map() if prices is None else None
    cons = cfgmod.to_constraints(cfg.constraints, tickers, sector_map=sectors)
    returns = data.simple_returns(panel)
    scenarios = returns
    if cfg.constraints.cash:
        mu, cov = add_cash(mu, cov, rf)
        scenarios = returns.assign(CASH=rf / 252)

    if obj == Objective.RISK_PARITY:
        from autoport.optimize import risk_budgeting

        classes = None
        if cfg.risk_budget_by == "sector":
            classes = cons.groups or data.sector_map()
        # the sector map may define the classes; any other constraint is refused there
        result = risk_budgeting(cov, cfg.risk_budget, asset_classes=classes, mu=mu,
                                risk_free_rate=rf, constraints=replace(cons, groups=None))
    else:
        result = run_optimize(
            mu, cov, obj, cons, risk_free_rate=rf, target_return=cfg.target_return,
            target_volatility=cfg.target_volatility, risk_aversion=cfg.risk_aversion,
            risk_tolerance=cfg.risk_tolerance, scenarios=scenarios, beta=cfg.beta,
            max_drawdown=cfg.max_drawdown, kelly_fraction=cfg.kelly_fraction,
            objective_weights=cfg.objective_weights,
        )
    notes = list(result.notes)
    frontier = None
    if cfg.frontier_points:
        try:
            frontier = efficient_frontier(mu, cov, cons, n_points=max(cfg.frontier_points, 2),
                                          risk_free_rate=rf)
            notes += [f"frontier: {n}" for n in frontier.notes]
        except OptimizationError as exc:
            notes.append(f"frontier not drawn: {exc}")
    stats = path_statistics(result.weights, returns, rf)
    pareto_frame = None
    if cfg.pareto:
        if len(cfg.pareto) != 2:
            raise ConfigError(f"--pareto needs two measures separated by a comma, got {cfg.pareto}")
        pareto_frame = pareto_front(mu, cov, (cfg.pareto[0], cfg.pareto[1]), cons,
                                    scenarios=scenarios, n_points=cfg.pareto_points,
                                    beta=cfg.beta)

    payload = {
        "objective": result.objective,
        "weights": result.weights.to_dict(),
        "expected_return": result.expected_return,
        "expected_volatility": result.volatility,
        "sharpe_ratio": result.sharpe_ratio,
        "in_sample": stats,
        "solver": result.solver,
        "solver_attempts": list(result.attempts),
        "notes": notes,
        "extra": result.extra,
        "estimation": {
            "returns_model": cfg.returns_model, "risk_model": cfg.risk_model,
            "window": cfg.window, "start": panel.index[0], "end": panel.index[-1],
            "risk_free_rate": rf, "data_hash": data.content_hash(panel),
        },
        "efficient_frontier": frontier.records() if frontier is not None else [],
    }
    if pareto_frame is not None:
        payload["pareto_front"] = pareto_frame.to_dict(orient="records")
    with output_dir(out, "optimize") as (staging, final):
        result.weights.rename("weight").to_csv(staging / "weights.csv", index_label="ticker")
        (staging / "result.json").write_text(json.dumps(to_jsonable(payload), indent=2))
        (staging / "config.json").write_text(cfg.model_dump_json(indent=2))
        if frontier is not None:
            frontier.to_frame().to_csv(staging / "frontier.csv", index=False)
            plot_frontier(frontier, mu, cov, result, staging / "frontier.png")
        if pareto_frame is not None:
            pareto_frame.to_csv(staging / "pareto.csv", index=False)
    payload["output_dir"] = str(final)
    if not no_track:
        payload["mlflow_run_id"] = tracking.log_run(
            EXPERIMENT,
            run_name=f"optimize-{result.objective}",
            params={
                "objective": result.objective, "returns_model": cfg.returns_model,
                "risk_model": cfg.risk_model, "window": cfg.window, "as_of": cfg.as_of,
                "risk_free_rate": rf, "frontier_points": cfg.frontier_points,
                "solver": result.solver, "n_assets": len(result.weights),
                "data_hash": payload["estimation"]["data_hash"],
                "prices": str(prices) if prices else "bundled",
            },
            metrics={
                "expected_return": result.expected_return,
                "expected_volatility": result.volatility,
                "sharpe_ratio": result.sharpe_ratio,
                "in_sample_sortino": stats["sortino_ratio"],
                "in_sample_max_drawdown": stats["max_drawdown"],
            },
            artifacts_dir=final,
            config=cfg.model_dump(),
        )
    if as_json:
        emit_json(payload)
        return
    _render(result, stats, notes, final, frontier)


def _render(result, stats, notes, final, frontier) -> None:
    table = Table(title=f"{result.objective} weights", show_lines=False)
    table.add_column("ticker")
    table.add_column("weight", justify="right")
    w = result.weights[result.weights.abs() > 1e-6].sort_values(ascending=False)
    for ticker, value in w.items():
        table.add_row(str(ticker), f"{value:.2%}")
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
    for name, value in rows:
        summary.add_row(name, value)
    console.print(summary)
    for note in notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    console.print(f"outputs: {final}", highlight=False, soft_wrap=True)


def plot_frontier(frontier, mu: pd.Series, cov: pd.DataFrame, result, path: Path) -> None:
    """Frontier, the assets, min-variance and tangency points, and the capital market line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    ax.plot(frontier.volatilities, frontier.returns, color="tab:blue", lw=2,
            label="efficient frontier")
    vols = np.sqrt(np.clip(np.diag(np.asarray(cov)), 0, None))
    ax.scatter(vols, np.asarray(mu), s=18, color="tab:gray", label="assets")
    for name, x, y in zip(mu.index, vols, np.asarray(mu), strict=True):
        ax.annotate(str(name), (x, y), fontsize=7, xytext=(3, 2), textcoords="offset points")
    mv = frontier.min_variance
    ax.scatter([mv.volatility], [mv.expected_return], marker="D", color="tab:green", s=50,
               label="min variance", zorder=3)
    rf = frontier.risk_free_rate
    if frontier.tangency is not None:
        tg = frontier.tangency
        ax.scatter([tg.volatility], [tg.expected_return], marker="*", color="tab:red", s=140,
                   label=f"tangency (Sharpe {tg.sharpe_ratio:.2f})", zorder=3)
        x_end = max(frontier.volatilities.max(), tg.volatility) * 1.1
        ax.plot([0, x_end], [rf, rf + tg.sharpe_ratio * x_end], ls="--", color="tab:red",
                lw=1, label="capital market line")
    ax.scatter([result.volatility], [result.expected_return], marker="o", facecolor="none",
               edgecolor="black", s=90, label=f"chosen: {result.objective}", zorder=4)
    ax.set_xlabel("volatility (annualised)")
    ax.set_ylabel("expected return (annualised)")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
