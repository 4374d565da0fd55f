"""Regime detectors compared on held-out history; the default is the one chosen on 1990-2006.

Protocol (one run, nothing tuned on the held-out years):

0. **Eligibility: the synthetic check.** Every setting of every candidate runs online on the
   seeded three-regime generator (:func:`autoport.synthetic.regime_switching_prices`, 1,600
   days, seeds 0-7) and is scored against its true regimes
   (:func:`autoport.regime.evaluation.synthetic_accuracy`: bear vs the rest for 2 states, all
   three names for 3). A setting is eligible when it is right on at least 90% of the labelled
   days of every seed (issue #16 item 4). No real data is read here. The same figures for the
   filter that knows the generator's true parameters (the ceiling of any online detector) are
   printed beside them.
1. **Selection, 1990-2006 only.** The bundled 20-stock panel and the S&P 500 index are cut at
   2006-12-29. Each candidate (model x input x states) runs online over the cut panel for every
   setting of its small grid (HMM: ``transmat_prior``; jump model: ``jump_penalty``); its
   labels (bear vs the rest) are scored against the 20% peak-to-trough dating of the cut index.
   Among a candidate's eligible settings, the highest balanced agreement wins (ties: fewer
   switches a year); among the candidates with an eligible setting, the highest balanced
   agreement is the default. Where no setting is eligible the rule cannot be met: the same
   choice is made over every setting, and the tables say that nothing passed the check.
2. **Held out, 2007-2022, reported once.** Each candidate with its chosen setting runs online
   over the whole panel (labels on a date use data up to that date only, from fits on earlier
   sessions). Scores on 2007-2022: balanced agreement and per-class recall against the 20%
   dating, raw agreement beside the base rate (always "not bear"), median detection lag at
   turning points, switches a year, balanced agreement against the NBER recession months
   (``data/nber_recessions.csv``), and the regime strategy's Sharpe ratio and max drawdown beside
   1/N on 2007-2022 (fast simulator engine, monthly decisions, the bundled strategy settings).

Run: ``.venv/bin/python experiments/regime/compare.py`` (9-22 minutes on a shared 2-core machine,
the synthetic check included; ``--synthetic-only [CANDIDATE ...]`` prints step 0 alone and writes
nothing, a quick loop while working on a detector). Writes
``tuning.csv``, ``comparison.csv``, ``comparison.md``, ``comparison.png`` and the held-out
online labels ``heldout_labels.csv.gz`` beside this file.
"""

from __future__ import annotations

import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from autoport import data
from autoport.backtest import load_config as load_backtest_config
from autoport.backtest import run_backtest
from autoport.regime import evaluation as ev
from autoport.regime.config import DetectorConfig, load_config
from autoport.regime.dating import bull_bear_labels
from autoport.regime.detector import detect
from autoport.strategies import make_strategy
from autoport.strategies.regime_switching import RegimeSwitching

OUT = Path(__file__).resolve().parent
TUNE_END, TEST_START, TEST_END = "2006-12-31", "2007-01-01", "2022-12-31"

SYNTHETIC_SEEDS, SYNTHETIC_DAYS, SYNTHETIC_MIN = range(8), 1600, 0.90

# name -> (fixed settings, grid key, grid values)
HMM_GRID = ("transmat_prior", [1.0, 30.0, 300.0])
JUMP_GRID = ("jump_penalty", [10.0, 30.0, 100.0, 300.0])
CANDIDATES = {
    f"{model}_{returns}_{k}": ({"model": model, "returns": returns, "n_states": k},
                               *(HMM_GRID if model == "hmm" else JUMP_GRID))
    for model, returns in [("hmm", "market"), ("hmm", "assets"), ("hmm", "features"),
                           ("jump", "features")]
    for k in (2, 3)
}


def nber_labels(dates: pd.DatetimeIndex) -> pd.Series:
    """``bear`` in NBER recession months (the month after the peak through the trough month)."""
    table = pd.read_csv(resources.files("autoport.datasets").joinpath("nber_recessions.csv"))
    month = dates.to_period("M")
    bear = np.zeros(len(dates), dtype=bool)
    for peak, trough in zip(table["peak"], table["trough"]):
        bear |= (month > pd.Period(peak, "M")) & (month <= pd.Period(trough, "M"))
    return pd.Series(np.where(bear, "bear", "bull"), index=dates, name="nber")


def scores(labels: pd.Series, reference: pd.Series) -> dict:
    s = ev.score(labels, reference, collapse=ev.BEAR_VS_REST)
    return {"balanced": s["balanced_agreement"]["balanced"],
            "recall_bear": s["balanced_agreement"]["recall"].get("bear", np.nan),
            "recall_bull": s["balanced_agreement"]["recall"].get("bull", np.nan),
            "agreement": s["agreement"], "base_rate": s["baseline_agreement"],
            "median_lag": s["median_lag_sessions"], "turning_points": s["turning_points"],
            "detected": s["detected"], "switches_per_year": s["switches_per_year"]}


def synthetic_check(detector: DetectorConfig) -> list[float]:
    """Online accuracy on the seeded three-regime generator, one figure per seed."""
    from autoport.synthetic import regime_switching_prices

    out = []
    for seed in SYNTHETIC_SEEDS:
        prices, truth = regime_switching_prices(SYNTHETIC_DAYS, seed=seed)
        out.append(ev.synthetic_accuracy(detect(prices, detector).labels, truth,
                                         detector.n_states))
    return out


def synthetic_ceiling(min_train: int) -> dict[int, list[float]]:
    """The same check for the filter that knows the generator's true parameters
    (:func:`autoport.regime.evaluation.oracle_labels`), on the days a detector labels (after
    ``min_train`` sessions): the best an online detector can expect, per seed; keyed by the
    number of states scored (3: all three names; 2: bear vs the rest)."""
    from autoport.synthetic import regime_switching_prices

    out = {3: [], 2: []}
    for seed in SYNTHETIC_SEEDS:
        prices, truth = regime_switching_prices(SYNTHETIC_DAYS, seed=seed)
        labels = ev.oracle_labels(prices).iloc[min_train:]
        for k in out:
            out[k].append(ev.synthetic_accuracy(labels, truth, k))
    return out


def strategy_figures(detector: DetectorConfig, prices: pd.DataFrame) -> dict:
    cfg = load_config().model_copy(update={"detector": detector})
    bt = load_backtest_config(None, {"strategy": "regime", "start": TEST_START, "end": TEST_END})

    def make(name, **kw):
        return RegimeSwitching(config=cfg) if name == "regime" else make_strategy(name, **kw)

    out = run_backtest(bt, prices, make_strategy=make, engine="sim")
    return {"sharpe": out.strategy.metrics["sharpe"],
            "max_drawdown": out.strategy.metrics["max_drawdown"],
            "sharpe_1n": out.baseline.metrics["sharpe"],
            "max_drawdown_1n": out.baseline.metrics["max_drawdown"]}


def synthetic_only(names: list[str]) -> None:
    """Print the synthetic check of every setting of ``names`` (a quick loop while working on
    a detector); writes nothing and reads no real data."""
    base = load_config().detector
    shared = {k: getattr(base, k) for k in SHARED}
    for k, acc in synthetic_ceiling(base.min_train).items():
        print(f"true-parameter filter, {k} states scored: worst {min(acc):.3f}, seeds "
              + " ".join(f"{a:.2f}" for a in acc), flush=True)
    for name in names:
        fixed, key, values = CANDIDATES[name]
        for value in values:
            t0 = time.perf_counter()
            acc = synthetic_check(DetectorConfig.model_validate({**shared, **fixed, key: value}))
            print(f"{name} {key}={value:g}: worst {min(acc):.3f}, seeds "
                  + " ".join(f"{a:.2f}" for a in acc)
                  + f" ({time.perf_counter() - t0:.0f} s)", flush=True)


SHARED = ("min_train", "refit_every", "train_window", "refit_restarts", "n_restarts", "seed",
          "n_iter", "tol")


def main() -> None:
    base = load_config().detector
    prices, index = data.bundled_prices(), data.bundled_benchmark()
    tune_prices, tune_index = prices.loc[:TUNE_END], index.loc[:TUNE_END]
    tune_ref = bull_bear_labels(tune_index)
    shared = {k: getattr(base, k) for k in SHARED}
    # 1. selection on 1990-2006
    rows, chosen = [], {}
    for name, (fixed, key, values) in CANDIDATES.items():
        for value in values:
            det = DetectorConfig.model_validate({**shared, **fixed, key: value})
            t0 = time.perf_counter()
            synthetic = synthetic_check(det)
            eligible = min(synthetic) >= SYNTHETIC_MIN
            labels = detect(tune_prices, det).labels
            s = scores(labels, tune_ref)
            rows.append({"candidate": name, "setting": f"{key}={value:g}", **s,
                         "synthetic_min": min(synthetic), "eligible": eligible,
                         "synthetic_by_seed": " ".join(f"{v:.2f}" for v in synthetic),
                         "seconds": time.perf_counter() - t0})
            print(f"tune {name} {key}={value:g}: balanced {s['balanced']:.3f}, synthetic min "
                  f"{min(synthetic):.2f} ({rows[-1]['seconds']:.0f} s)", file=sys.stderr,
                  flush=True)
            rank = (eligible, s["balanced"], -s["switches_per_year"])
            best = chosen.get(name)
            if best is None or rank > best[0]:
                chosen[name] = (rank, det, f"{key}={value:g}", min(synthetic))
    tuning = pd.DataFrame(rows)
    tuning.to_csv(OUT / "tuning.csv", index=False, float_format="%.4f")
    default = max(chosen, key=lambda n: chosen[n][0])  # an eligible candidate first
    # 2. held out: 2007-2022, once
    ref = bull_bear_labels(index)
    test = slice(TEST_START, TEST_END)
    results, paths = [], {}
    for name, (rank, det, setting, synthetic_min) in chosen.items():
        labels = detect(prices, det).labels
        held = labels.loc[test]
        paths[name] = held
        s = scores(held, ref.loc[test])
        nber = scores(held, nber_labels(held.index))
        strat = strategy_figures(det, prices)
        results.append({"candidate": name, "default": name == default, "setting": setting,
                        "tune_balanced": rank[1], "eligible": rank[0],
                        "synthetic_min": synthetic_min, **s,
                        "nber_balanced": nber["balanced"], "nber_recall_bear": nber["recall_bear"],
                        **strat})
        print(f"test {name}: balanced {s['balanced']:.3f}, sharpe {strat['sharpe']:.2f}",
              file=sys.stderr, flush=True)
    table = pd.DataFrame(results)
    table.to_csv(OUT / "comparison.csv", index=False, float_format="%.4f")
    pd.DataFrame(paths).to_csv(OUT / "heldout_labels.csv.gz")
    write_markdown(table, tuning, default, synthetic_ceiling(base.min_train))
    plot(paths, index.loc[test], ref.loc[test], nber_labels(index.loc[test].index), default)
    print(table.to_string(index=False))


def write_markdown(table: pd.DataFrame, tuning: pd.DataFrame, default: str,
                   ceiling: dict[int, list[float]]) -> None:
    pct = lambda v: f"{v:.0%}"  # noqa: E731
    met = bool(table["eligible"].any())
    rule = (f"among the settings that pass the synthetic check (online accuracy >= "
            f"{SYNTHETIC_MIN:.0%} on each of the {len(SYNTHETIC_SEEDS)} seeded three-regime "
            "panels)" if met else
            f"over every setting: **no setting of any candidate passes the synthetic check** "
            f"(online accuracy >= {SYNTHETIC_MIN:.0%} on each of the {len(SYNTHETIC_SEEDS)} "
            "seeded three-regime panels; the best worst-seed figure is "
            f"{tuning['synthetic_min'].max():.0%}; the filter that knows the generator's true "
            f"parameters scores {min(ceiling[3]):.1%} on its worst seed, all three names "
            "scored), so the eligibility rule cannot be met")
    lines = [
        "# Regime detectors on held-out history (2007-2022)",
        "",
        f"Settings chosen on 1990-2006 only; default: **{default}** (highest balanced agreement "
        f"with the 20% peak-to-trough dating on 1990-2006, {rule}). Written by "
        "`experiments/regime/compare.py`.",
        "",
        "| detector | setting | synthetic, worst seed | 1990-2006 balanced | balanced | "
        "recall bear | recall bull | agreement (base rate) | median lag (turning points found) "
        "| switches/yr | NBER balanced | Sharpe (1/N) | max DD (1/N) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lag = "-" if pd.isna(r.median_lag) else f"{r.median_lag:.0f}"
        name = f"**{r.candidate}** (default)" if r.default else r.candidate
        lines.append(
            f"| {name} | {r.setting} | {pct(r.synthetic_min)} | {pct(r.tune_balanced)} | "
            f"{pct(r.balanced)} | "
            f"{pct(r.recall_bear)} | {pct(r.recall_bull)} | {pct(r.agreement)} "
            f"({pct(r.base_rate)}) | {lag} ({r.detected}/{r.turning_points}) | "
            f"{r.switches_per_year:.1f} | {pct(r.nber_balanced)} | {r.sharpe:.2f} "
            f"({r.sharpe_1n:.2f}) | {r.max_drawdown:.1%} ({r.max_drawdown_1n:.1%}) |")
    lines += ["", "## Selection grid (synthetic check, then 1990-2006)", "",
              "| detector | setting | synthetic accuracy, seeds 0-7 | eligible | balanced | "
              "recall bear | recall bull | agreement (base rate) | switches/yr |",
              "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r.candidate} | {r.setting} | {r.synthetic_by_seed} | "
              f"{'yes' if r.eligible else 'no'} | {pct(r.balanced)} | {pct(r.recall_bear)} | "
              f"{pct(r.recall_bull)} | {pct(r.agreement)} ({pct(r.base_rate)}) | "
              f"{r.switches_per_year:.1f} |" for r in tuning.itertuples()]
    lines += [f"| *true-parameter filter* | {k} states scored | "
              + " ".join(f"{v:.2f}" for v in acc) + " | - | - | - | - | - | - |"
              for k, acc in ceiling.items()]
    lines += ["", "The last rows are the ceiling: the filter that knows the generator's true "
              "means, covariances and transition matrix "
              "(`autoport.regime.evaluation.oracle_labels`), scored on the same days (after "
              "`min_train`) on all three names (3) or bear vs the rest (2). A detector must "
              "also learn those parameters from earlier sessions.", ""]
    (OUT / "comparison.md").write_text("\n".join(lines))


def plot(paths: dict, index: pd.Series, ref: pd.Series, nber: pd.Series, default: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(paths) + 3  # the index, the two references, one strip per detector
    fig, axes = plt.subplots(rows, 1, figsize=(11, 1.0 + 0.55 * rows), sharex=True,
                             gridspec_kw={"height_ratios": [4] + [1] * (rows - 1)})
    axes[0].plot(index.index, index.to_numpy(), color="black", lw=0.8)
    axes[0].set_yscale("log")
    axes[0].set_title("S&P 500, 2007-2022: bear (red) by each reference and detector "
                      "(online labels)")

    def strip(ax, labels, name):
        bear = (labels.map(ev.BEAR_VS_REST) == "bear").to_numpy()
        ax.fill_between(labels.index, 0, 1, where=bear, color="tab:red", step="post", lw=0)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8,
                      fontweight="bold" if name.startswith(default) else "normal")

    strip(axes[1], ref, "20% rule")
    strip(axes[2], nber, "NBER")
    for ax, (name, labels) in zip(axes[3:], paths.items()):
        strip(ax, labels, name + (" *" if name == default else ""))
    for ax in axes[1:]:
        ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(OUT / "comparison.png", dpi=110)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic-only", nargs="*", metavar="CANDIDATE",
                        help="only print the synthetic check of these candidates (all when none "
                        "is named); writes nothing")
    args = parser.parse_args()
    if args.synthetic_only is not None:
        unknown = set(args.synthetic_only) - set(CANDIDATES)
        if unknown:
            parser.error(f"unknown candidate(s) {', '.join(sorted(unknown))}; use "
                         f"{', '.join(CANDIDATES)}")
        synthetic_only(args.synthetic_only or list(CANDIDATES))
    else:
        main()
