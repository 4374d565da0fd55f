"""``autoport regime``: the current market regime, its online history and how well it scores.

A shell: loads prices and ``configs/regime.yaml``, calls
:func:`autoport.regime.report.regime_report` (the online HMM detector, hysteresis, scores
against the peak-to-trough bull/bear dating of the S&P 500 index for the bundled data or the
panel's equal-weight index for a user file, and against true labels when the file has a
``regime`` column), writes report.json, the fitted model and
:func:`autoport.reporting.plot_regimes`, and logs the run (model included) to MLflow.

A ragged ``--prices`` (late listings, delistings) is accepted: the detector's market index
(and the bull/bear reference) averages the assets priced on each session and the one before
(:mod:`autoport.regime.features`).

Extra columns in ``--prices`` that are not prices: ``regime`` (true labels, scored only) and
``volume`` / ``sentiment`` (added to the HMM features, standardized like the others).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from autoport_cli.common import (
    AllowJumpsOption, FfillOption, JsonOption, OutOption, PricesOption, StartOption, TrackOption,
    bundled_config, console, emit_json, err_console, load_prices, note, output_dir, to_jsonable,
    user_errors,
)
from autoport.errors import ConfigError
from autoport_cli.common import check_tracking, counting

LABEL_COLUMN = "regime"
EXTRA_COLUMNS = ("volume", "sentiment")


def _load(path: Path | None, start: str | None, end: str | None, end_flag: str,
          min_history: int, ffill: bool, allow_jumps: bool):
    """Prices, optional true labels and optional extra feature columns, cut to the period."""
    import pandas as pd

    from autoport import data

    raw = data.read_price_file(path) if path is not None else data.bundled_prices()
    lower = {c: str(c).lower() for c in raw.columns}
    label_cols = [c for c in raw.columns if lower[c] == LABEL_COLUMN]
    extra_cols = [c for c in raw.columns if lower[c] in EXTRA_COLUMNS]
    truth = raw[label_cols[0]].astype(str) if label_cols else None
    extra = raw[extra_cols].apply(pd.to_numeric, errors="coerce") if extra_cols else None
    panel = load_prices(
        path, start=start, end=end, min_history=min_history, ffill=ffill,
        allow_jumps=allow_jumps, end_flag=end_flag, ragged=True,
        too_short="pass a longer history (an earlier --start or a later --end), or a smaller "
                  "detector.min_train in a --config file", raw=raw.drop(columns=label_cols + extra_cols),
    )
    if panel.isna().to_numpy().any():
        first = panel.apply(pd.Series.first_valid_index)
        note(f"ragged panel: the market index averages the assets priced on each session and "
             f"the one before ({int((first == panel.index[0]).sum())} of {panel.shape[1]} on "
             f"{panel.index[0].date()}, all from {first.max().date()})")
    return panel, truth, extra


@user_errors
def regime(
    prices: PricesOption = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="last date used (YYYY-MM-DD)",
                                 show_default="the last date of the prices")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="regime settings YAML",
                                  show_default="the bundled configs/regime.yaml")
    ] = None,
    recent: Annotated[int, typer.Option("--recent", min=0, help="recent dates shown")] = 10,
    start: StartOption = None,
    end: Annotated[
        str | None, typer.Option("--end", help="last date used (as --as-of)",
                                 show_default="the last date of the prices")
    ] = None,
    ffill: FfillOption = False,
    allow_jumps: AllowJumpsOption = False,
    as_json: JsonOption = False,
    out: OutOption = None,
    track: TrackOption = True,
) -> None:
    """Current regime (bull / bear / sideways) with probabilities, history and accuracy."""
    from autoport import data, tracking
    from autoport.regime.config import load_config
    from autoport.regime.hmm import fit_to_dict
    from autoport.regime.report import regime_report

    cfg = load_config(bundled_config(config))
    check_tracking(track)
    det = cfg.detector
    if as_of is not None and end is not None and as_of != end:
        raise ConfigError(f"--as-of {as_of} and --end {end} disagree; give one of them")
    panel, truth, extra = _load(
        prices, start, as_of if as_of is not None else end,
        "--end" if as_of is None and end is not None else "--as-of",
        det.min_train + det.vol_window + 2, ffill, allow_jumps,
    )
    with counting("regime model", "refits", quiet=as_json) as on_fit:
        report = regime_report(
            panel, cfg, truth=truth, extra=extra,
            benchmark=data.bundled_benchmark() if prices is None else None,
            benchmark_name="S&P 500 index (bundled)" if prices is None else None,
            on_fit=on_fit,
        )
    payload = report.to_json()
    with output_dir(out, "regime") as (staging, final):
        from autoport.reporting import plot_regimes

        (staging / "report.json").write_text(json.dumps(to_jsonable(payload), indent=2))
        (staging / "model.json").write_text(
            json.dumps(to_jsonable(fit_to_dict(report.last_fit)), indent=2))
        with open(staging / "model.pkl", "wb") as fh:
            pickle.dump(report.last_fit, fh)
        report.frame().to_csv(staging / "regimes.csv", index_label="date")
        plot_regimes(report, staging / "regime_timeline.png")
        # logged before the folder is kept: a failed or interrupted log keeps neither
        run_id = None
        if track:
            run_id = tracking.log_run(
                "regime",
                run_name=f"regime-{payload['as_of'].date()}",
                params={"prices": str(prices) if prices else "bundled",
                        **report.mlflow_params()},
                metrics=report.mlflow_metrics(),
                artifacts_dir=staging,
                tags={"model_artifact": "model.json"},
                config=cfg.model_dump(),
            )
    if as_json:
        payload["run_id"] = run_id
        payload["artifacts_dir"] = str(final)
        emit_json(payload)
        return
    _render(payload, report.detection, report.acted, recent, final, run_id)


def _render(payload, result, active, recent: int, final: Path, run_id: str | None) -> None:
    import pandas as pd

    probs = payload["regime_probabilities"]
    console.print(
        f"[bold]Regime on {payload['as_of'].date()}[/]: {payload['current_regime']} "
        f"(confidence {payload['confidence']:.0%}; "
        + ", ".join(f"{k} {v:.0%}" for k, v in probs.items())
        + f"); acted on after hysteresis: {payload['acted_regime']}"
    )
    t = Table(title="Recent online labels (filtered, no look-ahead)")
    for col in ("date", "regime", "confidence", "bull", "bear", "sideways", "acted"):
        t.add_column(col)
    tail = result.probabilities.iloc[-recent:]
    for date, row in tail.iterrows():
        t.add_row(str(date.date()), row.idxmax(), f"{row.max():.0%}", f"{row.bull:.2f}",
                  f"{row.bear:.2f}", f"{row.sideways:.2f}", active.loc[date])
    console.print(t)
    t = Table(title="Fitted regimes (last model, annualized)")
    for col in ("regime", "mean return", "volatility", "expected duration", "share of days"):
        t.add_column(col)
    for name, st in payload["model"]["states"].items():
        t.add_row(name, f"{st['mean_return_annual']:+.1%}", f"{st['volatility_annual']:.1%}",
                  f"{st['expected_duration_days']:.0f} d", f"{st['share_of_training_days']:.0%}")
    console.print(t)
    acc = payload["accuracy"]
    for key, title in (("online", "online labels"), ("with_hysteresis", "after hysteresis")):
        sc = acc[key]
        lag = sc["median_lag_sessions"]
        console.print(
            f"vs {acc['reference']} ({title}): agreement {sc['agreement']:.1%} on "
            f"{sc['dates']} days (a constant label scores {sc['baseline_agreement']:.1%}; "
            f"balanced {sc['balanced_agreement']['balanced']:.1%}, bear recall "
            f"{sc['balanced_agreement']['recall'].get('bear', float('nan')):.1%}); "
            f"turning points detected {sc['detected']}/"
            f"{sc['turning_points']}, median lag "
            f"{'-' if lag is None else f'{lag:.0f}'} sessions; "
            f"{sc['switches_per_year']:.1f} switches/year, median duration "
            f"{sc['median_duration_sessions']:.0f} sessions"
        )
    if "true_labels" in acc:
        console.print(f"vs the file's true labels: accuracy {acc['true_labels']['agreement']:.1%}")
    conf = pd.DataFrame(acc["online"]["confusion"]).T
    t = Table(title="Confusion, days (rows: reference, columns: online label)")
    t.add_column("reference")
    for c in conf.columns:
        t.add_column(str(c), justify="right")
    for r, row in conf.iterrows():
        t.add_row(str(r), *[str(int(v)) for v in row])
    console.print(t)
    if payload["unconverged_fits"]:
        err_console.print(
            f"[yellow]note[/] {len(payload['unconverged_fits'])} of {len(payload['fits'])} "
            "fits did not converge (listed in report.json)"
        )
    console.print(f"Output: {final}" + (f"; MLflow run {run_id}" if run_id else ""))
