"""``autoport regime``: the current market regime, its online history and how well it scores.

A shell: loads prices and ``configs/regime.yaml``, runs the online HMM detector
(:func:`autoport.regime.detector.detect`), scores it against the peak-to-trough bull/bear
dating (the S&P 500 index for the bundled data, the panel's equal-weight index for a user file)
and against true labels when the file has a ``regime`` column, writes report.json, the fitted
model and a timeline plot, and logs the run (model included) to MLflow.

Extra columns in ``--prices`` that are not prices: ``regime`` (true labels, scored only) and
``volume`` / ``sentiment`` (added to the HMM features, standardized like the others).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from autoport import data, tracking
from autoport.regime import evaluation as ev
from autoport.regime.config import load_config
from autoport.regime.dating import bear_markets, bull_bear_labels
from autoport.regime.features import build_features
from autoport.regime.detector import detect
from autoport.regime.hmm import fit_to_dict
from autoport.regime.hysteresis import hysteresis
from autoport_cli.common import (
    JsonOption, NoTrackOption, OutOption, PricesOption,
    console, emit_json, err_console, output_dir, to_jsonable, user_errors,
)
from autoport_cli.common import check_tracking

LABEL_COLUMN = "regime"
EXTRA_COLUMNS = ("volume", "sentiment")
COLORS = {"bull": "tab:green", "sideways": "tab:olive", "bear": "tab:red"}


def register(app: typer.Typer) -> None:
    app.command("regime")(regime)


def _load(path: Path | None, as_of: str | None, min_history: int):
    """Prices, optional true labels and optional extra feature columns, cut at ``as_of``."""
    raw = data.read_price_file(path) if path is not None else data.bundled_prices()
    lower = {c: str(c).lower() for c in raw.columns}
    label_cols = [c for c in raw.columns if lower[c] == LABEL_COLUMN]
    extra_cols = [c for c in raw.columns if lower[c] in EXTRA_COLUMNS]
    truth = raw[label_cols[0]].astype(str) if label_cols else None
    extra = raw[extra_cols].apply(pd.to_numeric, errors="coerce") if extra_cols else None
    panel = raw.drop(columns=label_cols + extra_cols)
    if as_of is not None:
        panel = data.slice_dates(panel, None, as_of)
    panel = data.validate_prices(panel, min_history=min_history)
    return panel, truth, extra


@user_errors
def regime(
    prices: PricesOption = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="last date used (YYYY-MM-DD); default: all")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="regime YAML (default: bundled)")
    ] = None,
    recent: Annotated[int, typer.Option("--recent", help="recent dates shown")] = 10,
    as_json: JsonOption = False,
    out: OutOption = None,
    no_track: NoTrackOption = False,
) -> None:
    """Current regime (bull / bear / sideways) with probabilities, history and accuracy."""
    cfg = load_config(config)
    check_tracking(not no_track)
    det = cfg.detector
    panel, truth, extra = _load(prices, as_of, det.min_train + det.vol_window + 2)
    feats = build_features(panel, extra=extra, **det.feature_kwargs())
    result = detect(panel, det, extra=extra)
    s = cfg.strategy
    active = hysteresis(
        result.probabilities, threshold=s.threshold, hold_days=s.hold_days, min_hold=s.min_hold
    )
    if prices is None:
        index = data.bundled_benchmark().loc[: panel.index[-1]]
        ref_name = "S&P 500 index (bundled)"
    else:
        index = (1 + panel.pct_change().fillna(0.0).mean(axis=1)).cumprod()
        ref_name = "equal-weight index of the given prices"
    reference = bull_bear_labels(index, decline=cfg.reference.decline,
                                 recovery=cfg.reference.recovery)
    accuracy = {
        "reference": ref_name,
        "rule": f"bear = decline of {cfg.reference.decline:.0%} from a peak, ends at a trough "
                f"followed by a {cfg.reference.recovery:.0%} rise (sideways counts as bull)",
        "bear_markets": bear_markets(index, decline=cfg.reference.decline,
                                     recovery=cfg.reference.recovery).to_dict(orient="records"),
        "online": ev.score(result.labels, reference, collapse=ev.BEAR_VS_REST),
        "with_hysteresis": ev.score(active, reference, collapse=ev.BEAR_VS_REST),
    }
    if truth is not None:
        accuracy["true_labels"] = ev.score(result.labels, truth)
    api = result.to_api()
    last = result.last_fit
    payload = {
        **api,
        "acted_regime": active.iloc[-1],
        "accuracy": accuracy,
        "stability": {
            "online_switches_per_year": ev.switches_per_year(result.labels),
            "online_median_duration_sessions": ev.median_duration(result.labels),
            "hysteresis_switches_per_year": ev.switches_per_year(active),
            "hysteresis_median_duration_sessions": ev.median_duration(active),
        },
        "model": last.describe(),
        "fits": [
            {"train_end": f.train_end, "n_train": f.n_train, "log_likelihood": f.log_likelihood,
             "converged": f.converged, "n_iter": f.n_iter}
            for f in result.fits
        ],
        "unconverged_fits": result.unconverged(),
        "labels_are": "online: filtered P(regime_t | data up to t), model fitted before t",
        "config": cfg.model_dump(),
    }
    with output_dir(out, "regime") as (staging, final):
        (staging / "report.json").write_text(json.dumps(to_jsonable(payload), indent=2))
        (staging / "model.json").write_text(json.dumps(to_jsonable(fit_to_dict(last)), indent=2))
        with open(staging / "model.pkl", "wb") as fh:
            pickle.dump(last, fh)
        # smoothed labels use later data: in-sample description only, named so
        smoothed = last.smoothed(feats).idxmax(axis=1).reindex(result.labels.index)
        frame = result.probabilities.assign(
            regime=result.labels, acted=active, reference=reference.reindex(result.labels.index),
            in_sample_smoothed_last_model=smoothed,
        )
        frame.to_csv(staging / "regimes.csv", index_label="date")
        _plot(index, result.probabilities, result.labels, active, reference, ref_name,
              staging / "regime_timeline.png")
    run_id = None
    if not no_track:
        online, hyst = accuracy["online"], accuracy["with_hysteresis"]
        metrics = {
            "confidence": api["confidence"],
            "agreement_online": online["agreement"],
            "agreement_hysteresis": hyst["agreement"],
            "balanced_agreement_online": online["balanced_agreement"]["balanced"],
            "median_lag_online": online["median_lag_sessions"],
            "switches_per_year_online": online["switches_per_year"],
            "switches_per_year_hysteresis": hyst["switches_per_year"],
            "median_duration_online": online["median_duration_sessions"],
            "unconverged_fits": len(result.unconverged()),
            **{f"p_{k}": v for k, v in api["regime_probabilities"].items()},
        }
        if truth is not None:
            metrics["accuracy_true_labels"] = accuracy["true_labels"]["agreement"]
        run_id = tracking.log_run(
            "regime",
            run_name=f"regime-{api['as_of'].date()}",
            params={
                "prices": str(prices) if prices else "bundled",
                "prices_hash": data.content_hash(panel),
                "as_of": str(api["as_of"].date()),
                "reference": ref_name,
                "current_regime": api["current_regime"],
                **{f"detector.{k}": v for k, v in det.model_dump().items()},
            },
            metrics=metrics,
            artifacts_dir=final,
            tags={"model_artifact": "model.json"},
            config=cfg.model_dump(),
        )
    if as_json:
        payload["output_dir"] = str(final)
        payload["mlflow_run_id"] = run_id
        emit_json(payload)
        return
    _render(payload, result, active, recent, final, run_id)


def _render(payload, result, active, recent: int, final: Path, run_id: str | None) -> None:
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


def _plot(index, probs, labels, active, reference, ref_name, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from autoport.regime.evaluation import runs

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    shown = index.loc[labels.index[0] :]
    ax.plot(shown.index, shown.to_numpy(), color="black", lw=0.8, label=ref_name)
    ax.set_yscale("log")
    for r in runs(labels).itertuples():
        ax.axvspan(r.start, r.end, color=COLORS[r.label], alpha=0.25, lw=0)
    for r in runs(reference.loc[labels.index[0] :]).itertuples():
        if r.label == "bear":
            ax.axvspan(r.start, r.end, ymin=0.97, ymax=1.0, color="black", lw=0)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.4) for c in COLORS.values()]
    handles.append(plt.Rectangle((0, 0), 1, 1, color="black"))
    ax.legend(handles, [*COLORS, "bear market (20% rule, top band)"], loc="upper left",
              fontsize=8)
    ax.set_title("Online regimes (filtered, no look-ahead) over the index")
    ax2.stackplot(probs.index, *(probs[c].to_numpy() for c in COLORS),
                  colors=list(COLORS.values()), alpha=0.6)
    code = active.map({"bull": 1.0, "sideways": 0.5, "bear": 0.0})
    ax2.plot(code.index, code.to_numpy(), color="black", lw=0.8)
    ax2.set_ylabel("probability")
    ax2.set_title("Filtered probabilities; line: regime acted on (1 bull, .5 sideways, 0 bear)",
                  fontsize=9)
    ax2.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
