"""One call that assembles what `autoport regime` shows: online regimes, the regime acted on,
and how both score against a peak-to-trough dating of the market (and true labels if known).

Pure: takes a validated price panel and a :class:`~autoport.regime.config.RegimeConfig`,
returns a :class:`RegimeReport`; the CLI renders, writes and logs it, a notebook can use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from autoport import data
from autoport.benchmarks import equal_weight_index
from autoport.regime import evaluation as ev
from autoport.regime.config import RegimeConfig, load_config
from autoport.regime.dating import bear_markets, bull_bear_labels
from autoport.regime.detector import detect
from autoport.regime.features import build_features
from autoport.regime.hysteresis import hysteresis

if TYPE_CHECKING:
    from autoport.regime.hmm import HMMFit, RegimeResult

EQUAL_WEIGHT_NAME = "equal-weight index of the given prices"
LABELS_ARE = "online: filtered P(regime_t | data up to t), model fitted before t"


@dataclass(frozen=True)
class RegimeReport:
    """Online labels (``detection``), the regime acted on after hysteresis (``acted``), the
    market ``index`` and its ex-post bull/bear ``reference`` dating, and their scores.

    ``in_sample_smoothed`` are the last model's smoothed labels over the whole history: they use
    later data, an in-sample description only, never a signal.
    """

    config: RegimeConfig
    detection: RegimeResult
    acted: pd.Series
    index: pd.Series
    reference_name: str
    reference: pd.Series
    accuracy: dict
    stability: dict
    in_sample_smoothed: pd.Series
    data_hash: str

    @property
    def last_fit(self) -> HMMFit:
        return self.detection.last_fit

    def to_json(self) -> dict:
        """The `--json` object and report.json (before the CLI adds its output folder/run)."""
        result = self.detection
        return {
            **result.to_api(),
            "acted_regime": self.acted.iloc[-1],
            "accuracy": self.accuracy,
            "stability": self.stability,
            "model": self.last_fit.describe(),
            "fits": [
                {"train_end": f.train_end, "n_train": f.n_train,
                 "log_likelihood": f.log_likelihood, "converged": f.converged,
                 "n_iter": f.n_iter}
                for f in result.fits
            ],
            "unconverged_fits": result.unconverged(),
            "labels_are": LABELS_ARE,
            "config": self.config.model_dump(),
        }

    def frame(self) -> pd.DataFrame:
        """regimes.csv: probabilities, online label, acted label, reference, smoothed label."""
        result = self.detection
        return result.probabilities.assign(
            regime=result.labels, acted=self.acted,
            reference=self.reference.reindex(result.labels.index),
            in_sample_smoothed_last_model=self.in_sample_smoothed,
        )

    def mlflow_params(self) -> dict:
        api = self.detection.to_api()
        return {
            "prices_hash": self.data_hash,
            "as_of": str(api["as_of"].date()),
            "reference": self.reference_name,
            "current_regime": api["current_regime"],
            **{f"detector.{k}": v for k, v in self.config.detector.model_dump().items()},
        }

    def mlflow_metrics(self) -> dict[str, float]:
        api = self.detection.to_api()
        online, hyst = self.accuracy["online"], self.accuracy["with_hysteresis"]
        metrics = {
            "confidence": api["confidence"],
            "agreement_online": online["agreement"],
            "agreement_hysteresis": hyst["agreement"],
            "balanced_agreement_online": online["balanced_agreement"]["balanced"],
            "median_lag_online": online["median_lag_sessions"],
            "switches_per_year_online": online["switches_per_year"],
            "switches_per_year_hysteresis": hyst["switches_per_year"],
            "median_duration_online": online["median_duration_sessions"],
            "unconverged_fits": len(self.detection.unconverged()),
            **{f"p_{k}": v for k, v in api["regime_probabilities"].items()},
        }
        if "true_labels" in self.accuracy:
            metrics["accuracy_true_labels"] = self.accuracy["true_labels"]["agreement"]
        return metrics


def regime_report(
    prices: pd.DataFrame,
    config: RegimeConfig | None = None,
    *,
    benchmark: pd.Series | None = None,
    benchmark_name: str | None = None,
    truth: pd.Series | None = None,
    extra: pd.DataFrame | None = None,
    on_fit=None,
) -> RegimeReport:
    """Detect online regimes in ``prices`` and score them.

    ``benchmark``: market levels to date bull and bear markets on (cut at the last price
    date); None uses the panel's :func:`~autoport.benchmarks.equal_weight_index`. ``truth``:
    true labels to score the online labels against. ``extra``: more HMM features (volume,
    sentiment), aligned on the prices' dates. Scores collapse to bear vs the rest.
    ``on_fit(done, total)`` follows the detector's refits (a progress bar).

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): sessions by tickers.
    config
        The regime settings; None: the bundled ``configs/regime.yaml``.
    benchmark
        Market index levels, shape (T,), to date bull and bear markets on; None: the panel's
        equal-weight index.
    benchmark_name
        How the scores name the benchmark.
    truth
        True regime labels per date (synthetic data) to score against.
    extra
        More feature columns on the prices' dates, shape (T, F).
    on_fit
        Called as ``on_fit(done, total)`` after each refit.
    """
    cfg = config if config is not None else load_config()
    det, s, ref = cfg.detector, cfg.strategy, cfg.reference
    result = detect(prices, det, extra=extra, on_fit=on_fit)
    active = hysteresis(
        result.probabilities, threshold=s.threshold, hold_days=s.hold_days, min_hold=s.min_hold
    )
    if benchmark is not None:
        index = benchmark.loc[: prices.index[-1]]
        ref_name = benchmark_name or str(benchmark.name)
    else:
        index = equal_weight_index(prices)
        ref_name = EQUAL_WEIGHT_NAME
    reference = bull_bear_labels(index, decline=ref.decline, recovery=ref.recovery)
    accuracy = {
        "reference": ref_name,
        "rule": f"bear = decline of {ref.decline:.0%} from a peak, ends at a trough "
                f"followed by a {ref.recovery:.0%} rise (sideways counts as bull)",
        "bear_markets": bear_markets(index, decline=ref.decline,
                                     recovery=ref.recovery).to_dict(orient="records"),
        "online": ev.score(result.labels, reference, collapse=ev.BEAR_VS_REST),
        "with_hysteresis": ev.score(active, reference, collapse=ev.BEAR_VS_REST),
    }
    if truth is not None:
        accuracy["true_labels"] = ev.score(result.labels, truth)
    stability = {
        "online_switches_per_year": ev.switches_per_year(result.labels),
        "online_median_duration_sessions": ev.median_duration(result.labels),
        "hysteresis_switches_per_year": ev.switches_per_year(active),
        "hysteresis_median_duration_sessions": ev.median_duration(active),
    }
    # detect() builds the same features inside; its signature returns only the regimes
    feats = build_features(prices, extra=extra, **det.feature_kwargs())
    smoothed = result.last_fit.smoothed(feats).idxmax(axis=1).reindex(result.labels.index)
    return RegimeReport(
        config=cfg, detection=result, acted=active, index=index, reference_name=ref_name,
        reference=reference, accuracy=accuracy, stability=stability,
        in_sample_smoothed=smoothed, data_hash=data.content_hash(prices),
    )
