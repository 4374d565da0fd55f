"""``autoport stress``: VaR/ES by method, stress scenarios, attribution, VaR backtest, alerts.

A shell: parses options, loads prices/weights/configs, calls :func:`autoport.risk.report.
risk_report`, renders rich tables, draws :func:`autoport.reporting.save_risk_plots`, writes
``--json`` and logs to MLflow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from autoport.errors import ConfigError, DataError
from autoport_cli.choices import STRESS, SamplerName, Strategy, VarBacktestModel, VarMethod, value
from autoport_cli.common import (
    AllowJumpsOption, EndOption, FfillOption, JsonOption, OutOption, PricesOption, StartOption,
    TrackOption, bundled_config,
    console,
    emit_json,
    err_console,
    load_prices,
    note,
    output_dir,
    to_jsonable,
    user_errors,
)
from autoport_cli.common import check_tracking

if TYPE_CHECKING:  # scipy and the risk engine load when the command runs
    from autoport.risk import report as rr


def read_weights(path: Path) -> dict[str, float]:
    """A JSON object {ticker: weight}; refuses anything else with a message."""
    if not path.exists():
        raise DataError(
            f"weights file {path} does not exist; pass a JSON file like "
            '{"AAPL": 0.5, "MSFT": 0.5}'
        )
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"weights file {path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise DataError(f"weights file {path} must hold one JSON object {{ticker: weight}}")
    bad = [k for k, v in raw.items() if isinstance(v, bool) or not isinstance(v, (int, float))]
    if bad:
        raise DataError(f"weights for {', '.join(bad)} in {path} are not numbers")
    return {str(k): float(v) for k, v in raw.items()}


def _window(value: str | None) -> int | str | None:
    """``--window``: a whole number of sessions or ``all``; the config checks the minimum."""
    if value is None or value == "all":
        return value
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"--window must be a number of sessions or 'all', got {value!r}") from None


@user_errors
def stress(
    weights: Annotated[
        Path | None, typer.Option("--weights", help="JSON file {ticker: weight}, summing to 1",
                                  show_default="equal weight")
    ] = None,
    strategy: Annotated[
        Strategy | None, typer.Option("--strategy", help="take today's weights from this "
                                      "strategy instead of --weights", show_default="none")
    ] = None,
    method: Annotated[
        VarMethod | None, typer.Option("--method", help="VaR/ES method family",
                                       show_default=STRESS["method"])
    ] = None,
    confidence: Annotated[
        float | None, typer.Option("--confidence", help="VaR confidence",
                                   show_default=str(STRESS["confidence"]))
    ] = None,
    horizon: Annotated[int | None, typer.Option(
        "--horizon", help="VaR horizon in sessions, e.g. 1, 5, 10",
        show_default=str(STRESS["horizon"]))] = None,
    scenarios: Annotated[
        Path | None, typer.Option("--scenarios", help="stress scenarios YAML",
                                  show_default="the bundled configs/stress.yaml")
    ] = None,
    alerts: Annotated[
        Path | None, typer.Option("--alerts", help="alert rules YAML",
                                  show_default="the bundled configs/alerts.yaml")
    ] = None,
    prices: PricesOption = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="stress settings YAML; options override it",
                                  show_default="none")
    ] = None,
    window: Annotated[
        str | None,
        typer.Option("--window", help="estimation window: sessions, or 'all' the history",
                     show_default=str(STRESS["window"])),
    ] = None,
    backtest_window: Annotated[
        int | None,
        typer.Option(
            "--backtest-window", help="VaR backtest rolling window in sessions",
            show_default=str(STRESS["backtest_window"]),
        ),
    ] = None,
    backtest_model: Annotated[
        VarBacktestModel | None,
        typer.Option("--backtest-model", help="the VaR model the backtest checks",
                     show_default=STRESS["backtest_model"]),
    ] = None,
    paths: Annotated[int | None, typer.Option(
        "--paths", help="Monte Carlo paths", show_default=str(STRESS["paths"]))] = None,
    sampler: Annotated[
        SamplerName | None, typer.Option("--sampler", help="Monte Carlo normal draws",
                                         show_default=STRESS["sampler"])
    ] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", min=0, help="Monte Carlo seed", show_default=str(STRESS["seed"]))] = None,
    start: StartOption = None,
    end: EndOption = None,
    ffill: FfillOption = False,
    allow_jumps: AllowJumpsOption = False,
    as_json: JsonOption = False,
    out: OutOption = None,
    track: TrackOption = True,
) -> None:
    """Value at Risk and Expected Shortfall, stress scenarios, attribution and a VaR backtest."""
    from autoport import data, tracking
    from autoport.risk import monitoring as mon
    from autoport.risk import report as rr
    from autoport.risk import stress as st
    from autoport.risk.config import load_stress_config

    cfg = load_stress_config(
        bundled_config(config),
        {
            "method": value(method), "confidence": confidence, "horizon": horizon,
            "window": _window(window), "backtest_window": backtest_window,
            "backtest_model": value(backtest_model), "paths": paths,
            "sampler": value(sampler), "seed": seed, "scenarios": bundled_config(scenarios),
            "alerts": bundled_config(alerts),
        },
    )  # fmt: skip
    check_tracking(track)
    if weights is not None and strategy is not None:
        raise ConfigError("give either --weights or --strategy, not both")
    scenario_set = st.load_scenarios(cfg.scenarios)
    alert_rules = mon.load_alert_rules(cfg.alerts)
    panel = load_prices(prices, start=start, end=end, min_history=32, ffill=ffill,
                        too_short="pass a longer history (an earlier --start or a later --end)",
                        allow_jumps=allow_jumps, ragged=True)
    # on a ragged panel: the assets with the whole estimation window, on the dates they share
    panel, universe = data.complete_universe(panel, None if cfg.window == "all" else cfg.window)
    if universe:
        note(universe)
    if len(panel) < cfg.backtest_window + 32:
        raise DataError(
            f"the prices hold {len(panel)} sessions; the VaR backtest needs its "
            f"--backtest-window ({cfg.backtest_window}) plus at least 31 more to test; pass a "
            "longer history or a smaller --backtest-window"
        )
    tickers = list(panel.columns)
    if weights is not None:
        w = rr.check_portfolio(read_weights(weights), tickers)
        source = str(weights)
    elif strategy is not None:
        from autoport.strategies import make_strategy

        decision = make_strategy(value(strategy)).decide(panel)
        w = rr.check_portfolio(decision.weights.to_dict(), tickers)
        source = f"strategy {value(strategy)}: {decision.reason}"
    else:
        w = rr.check_portfolio({t: 1.0 / len(tickers) for t in tickers}, tickers)
        source = "equal weight (default)"
    benchmark = data.bundled_benchmark() if prices is None else None
    report = rr.risk_report(
        panel,
        w,
        method=cfg.method,
        confidence=cfg.confidence,
        horizon=cfg.horizon,
        window=cfg.window,
        scenarios=scenario_set,
        alert_rules=alert_rules,
        sectors=data.sector_map(),
        benchmark=benchmark,
        n_paths=cfg.paths,
        seed=cfg.seed,
        sampler=cfg.sampler,
        decay=cfg.decay,
        backtest_model=cfg.backtest_model,
        backtest_window=cfg.backtest_window,
        concentration_limit=cfg.concentration_limit,
        risk_budgets=cfg.risk_budgets,
    )
    payload = report.to_json()
    payload["portfolio"] = {"source": source, "weights": w[w != 0].to_dict()}
    with output_dir(out, "stress") as (staging, final):
        (staging / "report.json").write_text(json.dumps(to_jsonable(payload), indent=2))
        (staging / "config.json").write_text(cfg.model_dump_json(indent=2))
        from autoport.reporting import save_risk_plots

        save_risk_plots(report, staging, cfg.confidence)
        # logged before the folder is kept: a failed or interrupted log keeps neither
        run_id = None
        if track:
            run_id = tracking.log_run(
                "stress",
                run_name=f"stress-{cfg.method}-{cfg.confidence:g}-{cfg.horizon}d",
                params={
                    **{k: v for k, v in cfg.model_dump().items() if k != "risk_budgets"},
                    "scenarios": str(cfg.scenarios or "bundled"),
                    "alerts": str(cfg.alerts or "bundled"),
                    "portfolio": source,
                    "prices": str(prices) if prices else "bundled",
                    "prices_hash": data.content_hash(panel),
                },
                metrics=report.mlflow_metrics(),
                artifacts_dir=staging,
                config=cfg.model_dump(mode="json"),
            )
    if as_json:
        payload["run_id"] = run_id
        payload["artifacts_dir"] = str(final)
        emit_json(payload)
        return
    _render(report, source, final, run_id)


# --------------------------------------------------------------------------------------------
# rendering


def _pct(x) -> str:
    return "-" if x is None or x != x else f"{x:+.2%}"


def alert_figure(metric: str, value: float) -> str:
    """Returns, drawdowns and weights in percent like every other table; a correlation stays
    a correlation."""
    return f"{value:+.2f}" if metric == "avg_correlation" else _pct(value)


def _render(report: rr.RiskReport, source: str, final: Path, run_id: str | None) -> None:
    est = report.estimation
    console.print(
        f"[bold]Portfolio[/]: {source}; estimated on {est['observations']} sessions "
        f"{est['start'].date()} to {est['end'].date()}"
    )
    t = Table(title="Value at Risk and Expected Shortfall (returns; negative = loss)")
    for col in ("method", "confidence", "horizon (days)", "VaR", "ES", "MC std. error"):
        t.add_column(col, justify="right" if col != "method" else "left")
    for name, r in report.var_results.items():
        err = "-" if r.mc_error is None else f"{r.mc_error:.4%}"
        t.add_row(
            name,
            f"{r.confidence_level:.1%}",
            str(r.horizon),
            _pct(r.var),
            _pct(r.expected_shortfall),
            err,
        )
    console.print(t)
    for name, r in report.var_results.items():
        if "note" in r.details:
            err_console.print(f"[yellow]note[/] {name}: {r.details['note']}")

    t = Table(title="Stress scenarios, worst first (P&L as return on capital; a replayed "
              "window is compared with the VaR scaled to its length, √time)")
    for col in ("scenario", "kind", "P&L", "breaches VaR (over)", "worst positions", "note"):
        t.add_column(col)
    for r in report.stress:
        worst = ", ".join(f"{p['asset']} {p['pnl']:+.2%}" for p in r.worst_positions())
        t.add_row(
            r.scenario,
            r.kind,
            _pct(r.pnl),
            "-" if r.var_breach is None else (
                ("yes" if r.var_breach else "no")
                + f" ({r.var_sessions}d {_pct(r.var_compared)})"),
            worst,
            r.note,
        )
    console.print(t)

    a = report.attribution
    t = Table(
        title=f"Risk attribution (parametric normal, Euler): VaR {_pct(a.var)}, "
        f"ES {_pct(a.expected_shortfall)}"
    )
    for col in (
        "asset",
        "weight",
        "marginal VaR",
        "component VaR",
        "% of VaR",
        "component ES",
        "incremental VaR",
    ):
        t.add_column(col, justify="right" if col != "asset" else "left")
    tab = a.table[a.table["weight"] != 0].sort_values("component_var")
    for asset, row in tab.iterrows():
        t.add_row(
            asset,
            f"{row.weight:.1%}",
            _pct(row.marginal_var),
            _pct(row.component_var),
            f"{row.pct_var:.1%}",
            _pct(row.component_es),
            _pct(row.incremental_var),
        )
    console.print(t)

    t = Table(title="Risk by sector")
    for col in ("sector", "weight", "component VaR", "% of VaR", "% of variance"):
        t.add_column(col, justify="right" if col != "sector" else "left")
    for sector, row in report.sectors.iterrows():
        t.add_row(
            sector,
            f"{row.weight:.1%}",
            _pct(row.component_var),
            f"{row.pct_var:.1%}",
            f"{row.variance_share:.1%}",
        )
    console.print(t)
    ft = report.factors.table()
    console.print(
        "Statistical factors: "
        + "; ".join(
            f"{k} explains {r.explained_variance_ratio:.0%} of asset variance and "
            f"{r.portfolio_variance_share:.0%} of the portfolio's"
            for k, r in ft.head(3).iterrows()
        )
    )

    over = report.budgets["assets"]
    over = over[over["over"]]
    if len(over):
        t = Table(title="Over risk budget (share of VaR above the budget by > 5 points)")
        for col in ("asset", "weight", "share of VaR", "budget", "excess"):
            t.add_column(col, justify="right" if col != "asset" else "left")
        for asset, row in over.iterrows():
            t.add_row(
                asset,
                f"{row.weight:.1%}",
                f"{row.risk_share:.1%}",
                f"{row.budget:.1%}",
                f"{row.excess:+.1%}",
            )
        console.print(t)
    cm = report.correlation_monitor
    if cm:
        console.print(
            f"Average pairwise correlation: {report.avg_correlation:.2f} over the estimation "
            f"window; 63-day rolling now {cm['rolling_63d_latest']:.2f} (max "
            f"{cm['rolling_63d_max']:.2f} on {cm['rolling_63d_max_date'].date()}), EWMA now "
            f"{cm['ewma_latest']:.2f}; limit {cm['limit']:.2f}"
        )
    s = report.backtest.summary()
    console.print(
        f"[bold]VaR backtest[/] ({s['method']}, {s['window']}-day rolling, causal): "
        f"{s['breaches']} breaches in {s['observations']} days = {s['breach_rate']:.2%} "
        f"(expected {1 - s['confidence_level']:.0%}); Kupiec LR p = {s['kupiec_pvalue']:.3f} "
        f"(exact binomial p = {s['binomial_pvalue']:.3f}), "
        f"Christoffersen p = {s['christoffersen_pvalue']:.3f}"
    )
    counts: dict[str, int] = {}
    for al in report.alerts:
        counts[al.rule] = counts.get(al.rule, 0) + 1
    if report.alerts:
        t = Table(title="Latest alerts (all in report.json)")
        for col in ("date", "rule", "value", "limit", "action"):
            t.add_column(col)
        for al in report.alerts[-8:]:
            t.add_row(
                str(al.date.date()), al.rule, alert_figure(al.metric, al.value),
                alert_figure(al.metric, al.limit), al.action
            )
        console.print(t)
    if counts:
        console.print(
            "[bold]Alerts along the history[/]: "
            + ", ".join(f"{k} x{v}" for k, v in counts.items())
            + " (all listed in report.json)"
        )
    if report.recommendations:
        console.print("[bold]Recommendations[/]")
        for rec in report.recommendations:
            console.print(f"  - {rec['message']}", highlight=False)
    console.print(f"Output: {final}" + (f"; MLflow run {run_id}" if run_id else ""))
