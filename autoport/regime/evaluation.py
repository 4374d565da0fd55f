"""Scores for regime labels: agreement, confusion, detection lag, switching and durations.

Predicted and reference labels are Series of names indexed by date; scores use the dates both
cover. ``collapse`` maps the detector's names onto the reference's classes when the reference
has fewer (the peak-to-trough dating has only bull and bear, so ``sideways`` counts as
``bull``: "not a bear market").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autoport.errors import DataError

BEAR_VS_REST = {"bull": "bull", "sideways": "bull", "bear": "bear"}


def synthetic_accuracy(labels: pd.Series, truth: pd.Series, n_states: int) -> float:
    """Share of labelled dates a detector gets right against a synthetic panel's true regimes
    (:func:`autoport.synthetic.regime_switching_prices`): a 2-state detector has no sideways,
    so it is scored bear vs the rest (``sideways`` counts as not bear, as in the peak-to-trough
    dating it is chosen on); a 3-state detector on all three names."""
    collapse = BEAR_VS_REST if n_states == 2 else None
    t = truth.reindex(labels.index)
    p = labels.map(collapse) if collapse else labels
    t = t.map(collapse) if collapse else t
    return float((p.to_numpy() == t.to_numpy()).mean())


def oracle_labels(prices: pd.DataFrame, model=None) -> pd.Series:
    """Online labels of a synthetic panel from the filter that knows its generator's true
    parameters: the ceiling of :func:`synthetic_accuracy` for any online detector.

    :func:`autoport.synthetic.regime_switching_prices` draws each day's returns from the day's
    regime; the filtered probability of each regime under the true means, covariances and
    transition matrix (the chain starts in regime 0) is the best guess that uses returns up to
    that day only. A detector must also learn those parameters from earlier data, so it cannot
    be expected to beat this on average; where it stays near 90%, a 90% bar leaves no room.
    ``model``: the generator's :class:`~autoport.synthetic.RegimeModel` (None: its default for
    the panel's number of assets). The labels start on the first return (the second price row).
    """
    from hmmlearn.hmm import GaussianHMM

    from autoport.regime.hmm import forward_filter
    from autoport.synthetic import default_model

    model = model if model is not None else default_model(prices.shape[1])
    model.check()
    k, n = model.means.shape
    returns = prices.pct_change().iloc[1:]  # the generator's own daily returns
    hmm = GaussianHMM(n_components=k, covariance_type="full", init_params="")
    hmm.n_features = n
    hmm.startprob_ = np.eye(k)[0]
    hmm.transmat_ = np.asarray(model.transition, dtype=float)
    hmm.means_ = np.asarray(model.means, dtype=float)
    hmm.covars_ = np.einsum("ki,kij,kj->kij", model.vols, model.correlations, model.vols)
    probs = forward_filter(hmm, returns.to_numpy(dtype=float))
    return pd.Series(np.asarray(model.names)[probs.argmax(axis=1)], index=returns.index,
                     name="regime")


def _align(pred: pd.Series, truth: pd.Series) -> tuple[pd.Series, pd.Series]:
    common = pred.index.intersection(truth.index)
    if len(common) == 0:
        raise DataError(
            "predicted and reference labels share no dates; score them on the same period"
        )
    return pred.loc[common], truth.loc[common]


def agreement(pred: pd.Series, truth: pd.Series, collapse: dict | None = None) -> float:
    """Share of common dates where the (collapsed) prediction equals the reference."""
    p, t = _align(pred, truth)
    if collapse is not None:
        p = p.map(collapse)
    return float((p.to_numpy() == t.to_numpy()).mean())


def balanced_agreement(pred: pd.Series, truth: pd.Series, collapse: dict | None = None) -> dict:
    """Recall of each reference class and their mean (balanced accuracy).

    A constant label scores 1/k here whatever the base rate, so this shows whether a detector
    adds information beyond always naming the commonest class.
    """
    p, t = _align(pred, truth)
    if collapse is not None:
        p = p.map(collapse)
    recall = {str(c): float((p[t == c] == c).mean()) for c in sorted(t.unique(), key=_order)}
    return {"recall": recall, "balanced": float(np.mean(list(recall.values())))}


def confusion(pred: pd.Series, truth: pd.Series) -> pd.DataFrame:
    """Counts of days: rows are the reference, columns the prediction (uncollapsed)."""
    p, t = _align(pred, truth)
    rows = sorted(t.unique(), key=_order)
    cols = sorted(set(p.unique()) | set(rows), key=_order)
    table = pd.crosstab(t.rename("reference"), p.rename("predicted"))
    return table.reindex(index=rows, columns=cols, fill_value=0)


def _order(name: str) -> tuple[int, str]:
    rank = {"bull": 0, "sideways": 1, "bear": 2}
    return rank.get(name, 9), name


def runs(labels: pd.Series) -> pd.DataFrame:
    """Maximal runs of one label: start, end, label, sessions."""
    if labels.empty:
        return pd.DataFrame(columns=["start", "end", "label", "sessions"])
    values = labels.to_numpy()
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.r_[0, change]
    ends = np.r_[change, len(values)] - 1
    return pd.DataFrame({
        "start": labels.index[starts],
        "end": labels.index[ends],
        "label": values[starts],
        "sessions": ends - starts + 1,
    })


def detection_lags(
    pred: pd.Series, truth: pd.Series, collapse: dict | None = None
) -> pd.DataFrame:
    """For each change of the reference label, sessions until the prediction agrees.

    The lag is counted from the first session of the new reference phase (0: the detector
    already says so that day) and searched within that phase only; a phase the detector never
    reports within it is a miss (lag NaN, ``detected`` False).
    """
    p, t = _align(pred, truth)
    if collapse is not None:
        p = p.map(collapse)
    pv = p.to_numpy()
    rows = []
    phases = runs(t)
    for i in range(1, len(phases)):
        ph = phases.iloc[i]
        lo = t.index.get_loc(ph.start)
        hi = lo + int(ph.sessions)
        hits = np.flatnonzero(pv[lo:hi] == ph.label)
        rows.append({
            "date": ph.start,
            "from": phases.iloc[i - 1].label,
            "to": ph.label,
            "phase_sessions": int(ph.sessions),
            "lag_sessions": float(hits[0]) if len(hits) else np.nan,
            "detected": bool(len(hits)),
        })
    return pd.DataFrame(
        rows, columns=["date", "from", "to", "phase_sessions", "lag_sessions", "detected"]
    )


def switches_per_year(labels: pd.Series, periods_per_year: int = 252) -> float:
    """Label changes per year of sessions."""
    if len(labels) < 2:
        return 0.0
    changes = int((labels.to_numpy()[1:] != labels.to_numpy()[:-1]).sum())
    return changes * periods_per_year / (len(labels) - 1)


def median_duration(labels: pd.Series) -> float:
    """Median run length in sessions (the first and last runs are cut by the sample)."""
    r = runs(labels)
    return float(r["sessions"].median()) if len(r) else float("nan")


def score(
    pred: pd.Series,
    truth: pd.Series,
    *,
    collapse: dict | None = None,
    periods_per_year: int = 252,
) -> dict:
    """All scores at once, JSON-ready (lags as a list of records)."""
    lags = detection_lags(pred, truth, collapse)
    p, _ = _align(pred, truth)
    detected = lags[lags["detected"]]
    return {
        "dates": int(len(p)),
        "start": p.index[0],
        "end": p.index[-1],
        "agreement": agreement(pred, truth, collapse),
        "balanced_agreement": balanced_agreement(pred, truth, collapse),
        # what always answering the reference's most common class would score
        "baseline_agreement": float(truth.loc[p.index].value_counts(normalize=True).iloc[0]),
        "collapse": collapse,
        "confusion": confusion(pred, truth).to_dict(orient="index"),
        "turning_points": int(len(lags)),
        "detected": int(len(detected)),
        "median_lag_sessions": float(detected["lag_sessions"].median())
        if len(detected) else None,
        "lags": lags.to_dict(orient="records"),
        "switches_per_year": switches_per_year(pred, periods_per_year),
        "median_duration_sessions": median_duration(pred),
        "reference_switches_per_year": switches_per_year(truth.loc[p.index], periods_per_year),
    }
