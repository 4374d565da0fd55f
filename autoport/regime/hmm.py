"""A 2- or 3-state Gaussian HMM (hmmlearn) fitted with seeded restarts, and its online labels.

Naming rule (the model's own, never matched against a truth): with each state's daily return
mean and volatility read from the fitted emission parameters (``ret`` column, unstandardized),

- **bear** is the state with the highest return volatility;
- of the other two, **bull** is the one with the higher mean return;
- the remaining state is **sideways** (a 2-state model has none: its sideways probability is 0).

Online labels (no look-ahead): the label on date ``t`` is the argmax of the *filtered*
probabilities P(state_t | features up to t), from a model fitted only on sessions strictly
before the segment it labels. The model is refitted every ``refit_every`` sessions on an
expanding (or rolling ``train_window``) window; the refit grid is stated once, in
:mod:`autoport.regime.online`, whose filter every consumer uses. Smoothed posteriors
(forward-backward) use later data and are offered by :func:`in_sample_probabilities` for
description only.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from autoport.errors import ConfigError, DataError
from autoport.regime.features import FEATURE_RET, Scaler, check_columns

REGIMES = ("bull", "bear", "sideways")


@dataclass(frozen=True)
class Restart:
    """One EM run of a fit: ``start`` is "seeded" (hmmlearn's k-means start with ``seed``),
    "warm" (the previous fit's parameters; seed -1) or "split" (:func:`_split_start`; -2)."""

    seed: int
    log_likelihood: float
    converged: bool
    n_iter: int
    start: str = "seeded"


@dataclass(frozen=True)
class HMMFit:
    """A fitted model with its scaler and the name of each hidden state.

    ``log_likelihood`` is on the standardized training features; ``state_names[i]`` names
    hidden state ``i``; ``state_stats`` holds each regime's daily mean return and volatility.
    """

    model: object  # hmmlearn.hmm.GaussianHMM
    scaler: Scaler
    columns: tuple[str, ...]
    state_names: tuple[str, ...]
    log_likelihood: float
    converged: bool
    n_iter: int
    restarts: tuple[Restart, ...]
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    n_train: int
    state_stats: dict = field(default_factory=dict)

    kind = "hmm"

    def order(self) -> np.ndarray:
        """Hidden-state indices in :data:`REGIMES` order (bull, bear, sideways); -1 for a regime
        the model has no state for (sideways of a 2-state model)."""
        return regime_order(self.state_names)

    def to_regimes(self, hidden: np.ndarray) -> np.ndarray:
        """Hidden-state probabilities as bull/bear/sideways columns (0 for a missing regime)."""
        return to_regimes(hidden, self.state_names)

    # the online filter's two steps (see autoport.regime.models): a carry is the predicted state
    # distribution of the next row, so a run continued from it equals one pass bit for bit
    def start(self, train: np.ndarray) -> np.ndarray:
        """The carry after filtering the raw training rows with this fit."""
        before = forward_filter(self.model, self.scaler.transform(train))
        return predict(before[-1], self.model.transmat_)

    def step(self, rows: np.ndarray, carry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Filtered probabilities of raw ``rows`` (regime order) from ``carry``, and the carry
        after them."""
        hidden = forward_filter(self.model, self.scaler.transform(rows), carry)
        return self.to_regimes(hidden), predict(hidden[-1], self.model.transmat_)

    def filter(self, features: pd.DataFrame) -> pd.DataFrame:
        """Filtered probabilities P(regime_t | rows up to t), columns bull/bear/sideways."""
        check_columns(features, self.columns)
        probs = forward_filter(self.model, self.scaler.transform(features))
        return pd.DataFrame(self.to_regimes(probs), index=features.index, columns=list(REGIMES))

    def smoothed(self, features: pd.DataFrame) -> pd.DataFrame:
        """Smoothed posteriors (uses later rows): in-sample description only."""
        check_columns(features, self.columns)
        probs = self.model.predict_proba(self.scaler.transform(features))
        return pd.DataFrame(self.to_regimes(probs), index=features.index, columns=list(REGIMES))

    def describe(self) -> dict:
        return {
            "features": list(self.columns),
            "train_start": self.train_start,
            "train_end": self.train_end,
            "n_train": self.n_train,
            "log_likelihood": self.log_likelihood,
            "converged": self.converged,
            "n_iter": self.n_iter,
            "restarts": [r.__dict__ for r in self.restarts],
            "states": self.state_stats,
            "transition": pd.DataFrame(
                self.model.transmat_, index=list(self.state_names),
                columns=list(self.state_names),
            ).to_dict(),
        }


def forward_filter(model, x: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """P(state_t | x_0..x_t) for every t by the scaled forward recursion (hidden-state order).

    ``start`` is the state distribution before the first row's emission (default: the model's
    ``startprob_``); passing :func:`predict` of the last filtered row continues an earlier run
    bit for bit, which is how :class:`autoport.regime.online.OnlineRegimeFilter` adds rows.

    hmmlearn's compiled scaled forward pass does the recursion (its ``forward_scaling``
    normalises each row, so its forward variables are the filtered probabilities, never the
    smoothed ones); each row's emission densities are divided by their largest value first, which
    leaves the normalised rows unchanged and keeps the pass from underflowing on outliers.
    ``tests/regime/test_regime_online.py`` checks it against the written-out recursion to 1e-12.
    """
    from hmmlearn import _hmmc

    x = np.asarray(x, dtype=float)
    k = model.n_components
    if len(x) == 0:
        return np.empty((0, k))
    log_b = log_densities(model, x)
    b = np.exp(log_b - log_b.max(axis=1, keepdims=True))
    prior = np.asarray(model.startprob_ if start is None else start, dtype=float)
    a = np.ascontiguousarray(model.transmat_, dtype=float)
    try:
        return _hmmc.forward_scaling(prior, a, b)[1]
    except ValueError:  # a row no reachable state explains: the recursion below handles it
        return _forward_rows(prior, a, b)


def log_densities(model, x: np.ndarray) -> np.ndarray:
    """Each row's Gaussian log density under each state, shape (n_rows, n_states).

    Computed row by row in numpy without BLAS (``einsum`` against each state's inverse Cholesky
    factor), so a row's value never depends on how many rows come with it: a history cut at
    ``t`` and the whole panel give bit-identical probabilities up to ``t``. (hmmlearn's own
    densities solve all rows at once through LAPACK, whose result can change in the last bits
    with the number of rows.)
    """
    covs = np.asarray(model.covars_, dtype=float)  # full matrices whatever the type
    n, d = x.shape
    out = np.empty((n, model.n_components))
    for i in range(model.n_components):
        chol = _cholesky(covs[i])
        inv = np.linalg.inv(chol)
        z = np.einsum("nj,ij->ni", x - model.means_[i], inv)
        out[:, i] = -0.5 * (d * np.log(2 * np.pi) + (z * z).sum(axis=1)) - np.log(
            np.diag(chol)).sum()
    return out


def _cholesky(cov: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor; a state stuck on too few rows (a singular covariance) gets the
    same 1e-7 ridge hmmlearn's own densities add in that case."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        try:
            return np.linalg.cholesky(cov + 1e-7 * np.eye(len(cov)))
        except np.linalg.LinAlgError:
            raise DataError(
                "a fitted regime state has a covariance that is not positive definite; use "
                "more training rows (min_train) or fewer feature columns"
            ) from None


def predict(filtered: np.ndarray, transmat: np.ndarray) -> np.ndarray:
    """``filtered @ transmat``, summed over states in order from 0 as hmmlearn's compiled pass
    sums them, so a run continued from ``predict(row)`` equals one pass bit for bit."""
    out = np.zeros(transmat.shape[1])
    for i, p in enumerate(filtered):
        out = out + p * transmat[i]
    return out


def _forward_rows(prior: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The forward recursion row by row, for the rare row whose every reachable state has zero
    density: that row falls back to the predicted prior instead of dividing by zero."""
    out = np.empty_like(b)
    predicted = prior
    for t in range(len(b)):
        alpha = predicted * b[t]
        total = alpha.sum()
        if total <= 0 or not np.isfinite(total):
            alpha, total = predicted, predicted.sum()
        out[t] = alpha / total
        predicted = predict(out[t], a)
    return out


def market_weights(columns: tuple[str, ...]) -> np.ndarray:
    """The market return as a combination of feature columns: ``ret`` itself, or else the
    equal-weight average of the per-asset ``ret:<ticker>`` columns."""
    cols = list(columns)
    if FEATURE_RET in cols:
        w = np.zeros(len(cols))
        w[cols.index(FEATURE_RET)] = 1.0
        return w
    assets = [c.startswith(FEATURE_RET + ":") for c in cols]
    if not any(assets):
        raise DataError(
            f"regime features need a {FEATURE_RET!r} column or per-asset 'ret:<ticker>' "
            f"columns to name the states; got {cols}"
        )
    return np.asarray(assets, dtype=float) / sum(assets)


def name_states(means_ret: np.ndarray, vols_ret: np.ndarray) -> tuple[str, ...]:
    """Apply the naming rule of the module docstring to per-state mean return and vol."""
    k = len(means_ret)
    if k not in (2, 3):
        raise ConfigError(f"the naming rule needs 2 or 3 states, got {k}")
    bear = int(np.argmax(vols_ret))
    rest = [i for i in range(k) if i != bear]
    bull = max(rest, key=lambda i: means_ret[i])
    names = ["sideways"] * k
    names[bear], names[bull] = "bear", "bull"
    return tuple(names)


def regime_order(state_names: tuple[str, ...]) -> np.ndarray:
    """Hidden-state index of each of :data:`REGIMES` (-1 when the model has no such state)."""
    return np.array([state_names.index(n) if n in state_names else -1 for n in REGIMES])


def to_regimes(hidden: np.ndarray, state_names: tuple[str, ...]) -> np.ndarray:
    """(n, n_states) hidden-order probabilities as (n, 3) in :data:`REGIMES` order."""
    order = regime_order(state_names)
    if (order >= 0).all():
        return hidden[:, order]
    out = np.zeros((len(hidden), len(REGIMES)))
    for j, i in enumerate(order):
        if i >= 0:
            out[:, j] = hidden[:, i]
    return out


def fit_hmm(
    features: pd.DataFrame,
    *,
    n_restarts: int = 5,
    seed: int = 0,
    n_iter: int = 200,
    tol: float = 1e-2,
    covariance_type: str = "full",
    transmat_prior: float = 1.0,
    n_states: int = 3,
    init: HMMFit | None = None,
    split_start: bool = True,
) -> HMMFit:
    """Fit an ``n_states`` (2 or 3) GaussianHMM from ``n_restarts`` seeded k-means starts
    (seeds ``seed``, ``seed+1``, ...) and, with ``split_start``, the split start
    (:func:`_split_start`, which finds a rare volatile regime no k-means start finds).

    The start with the highest log-likelihood wins. ``init`` (a previous fit) adds one more
    candidate started from its parameters, which keeps refits stable and cheap; with ``init``,
    ``n_restarts`` may be 0 (the warm start and the split start). As the split start runs at
    every refit too, a warm start stuck in a poor optimum (the calm regime split in two because
    the first window held almost no crash) is left as soon as the data favour the split. The
    winner's ``converged`` flag is reported, never hidden. ``transmat_prior`` > 1 is a
    Dirichlet prior on the diagonal of the transition matrix (more persistent regimes).
    """
    from hmmlearn.hmm import GaussianHMM

    warm = (init is not None and init.columns == tuple(features.columns)
            and len(init.state_names) == n_states)
    if n_states not in (2, 3):
        raise ConfigError(f"n_states {n_states} is not supported; use 2 or 3")
    if n_restarts < (0 if warm else 1):
        raise ConfigError(f"n_restarts {n_restarts} must be at least 1")
    market = market_weights(tuple(features.columns))
    if len(features) < 60:
        raise DataError(
            f"an HMM fit needs at least 60 sessions of features, got {len(features)}; "
            "pass a longer history or a smaller min_train"
        )
    scaler = Scaler.fit(features)
    x = scaler.transform(features)

    def make(rs: int, params_init: str, k: int = n_states) -> GaussianHMM:
        return GaussianHMM(
            n_components=k, covariance_type=covariance_type, n_iter=n_iter, tol=tol,
            random_state=rs, init_params=params_init,
            transmat_prior=np.full((k, k), 1.0) + np.eye(k) * (transmat_prior - 1.0),
        )

    candidates: list[tuple[GaussianHMM, Restart]] = []
    starts = [("seeded", seed + i) for i in range(n_restarts)]
    starts += [("warm", -1)] if warm else []
    starts += [("split", -2)] if split_start else []
    for start, rs in starts:
        if start == "split":
            model = _split_start(x, n_states, lambda k: make(seed, "", k))
            if model is None:
                continue
        elif start == "warm":
            model = make(seed, "")
            old = init.model
            # the previous fit's parameters, re-expressed in this window's standardization
            ratio = init.scaler.std / scaler.std
            model.startprob_ = old.startprob_.copy()
            model.transmat_ = old.transmat_.copy()
            model.means_ = (old.means_ * init.scaler.std + init.scaler.mean - scaler.mean) / (
                scaler.std
            )
            covs = old.covars_ * np.outer(ratio, ratio)
            try:
                model.covars_ = _from_full(covs, covariance_type)
            except ValueError:  # a state collapsed on a few rows: no warm start from it
                continue
        else:
            model = make(rs, "stmc")
        try:
            with _quiet():
                model.fit(x)
                ll = float(model.score(x))
        except (ValueError, np.linalg.LinAlgError):
            continue
        if not np.isfinite(ll):
            continue
        candidates.append(
            (model, Restart(rs, ll, _converged(model.monitor_, tol), int(model.monitor_.iter),
                            start))
        )
    if not candidates:
        raise DataError(
            f"every HMM restart failed on the {len(features)} sessions to "
            f"{features.index[-1].date()}; check the features for constant stretches"
        )
    best_model, best = max(candidates, key=lambda c: c[1].log_likelihood)
    # each state's market return distribution in daily log-return units
    w = market * scaler.std
    means = best_model.means_ @ w + market @ scaler.mean
    vols = np.sqrt(np.einsum("i,kij,j->k", w, best_model.covars_, w))
    names = name_states(means, vols)
    occupancy = best_model.predict_proba(x).mean(axis=0)
    stats = {
        names[i]: {
            "mean_return_daily": float(means[i]),
            "volatility_daily": float(vols[i]),
            "mean_return_annual": float(means[i] * 252),
            "volatility_annual": float(vols[i] * np.sqrt(252)),
            "expected_duration_days": float(1.0 / max(1e-12, 1.0 - best_model.transmat_[i, i])),
            "share_of_training_days": float(occupancy[i]),
        }
        for i in range(n_states)
    }
    return HMMFit(
        model=best_model,
        scaler=scaler,
        columns=tuple(features.columns),
        state_names=names,
        log_likelihood=best.log_likelihood,
        converged=best.converged,
        n_iter=best.n_iter,
        restarts=tuple(c[1] for c in candidates),
        train_start=features.index[0],
        train_end=features.index[-1],
        n_train=len(features),
        state_stats=stats,
    )


SPLIT_SHARE = 0.05  # share of the training rows that seeds the split start's new state


def _split_start(x: np.ndarray, n_states: int, make) -> object | None:
    """The split start: an ``n_states`` model, not yet fitted, grown one state at a time.

    hmmlearn's own start (``init_params`` "m" and "c") places the means by k-means and gives
    every state the window's covariance, so the states begin apart in mean only. Return regimes
    differ mainly in volatility and correlation, with means near zero, and a rare volatile
    regime (a week of crash in three years) is found by no k-means start: EM then splits the
    common calm regime in two instead and names the middle regime bear (measured on the seeded
    three-regime generator, seed 7, first 756 sessions: the split start's fit has a
    log-likelihood 14 nats higher than the best of the five k-means starts the detector runs).
    Here a model with one state fewer is fitted first (recursively from one Gaussian),
    and the new state starts on the rows it explains worst (the lowest density under their
    best state: ``SPLIT_SHARE`` of the rows, at least ``n_features + 2``) with their mean and
    covariance: greedy mixture learning (Verbeek, Vlassis and Kröse 2003). ``make(k)`` builds an
    unfitted ``k``-state model; None if a step fails.
    """
    n, d = x.shape
    size = min(n // 2, max(int(np.ceil(SPLIT_SHARE * n)), d + 2))
    means, covs = x.mean(axis=0, keepdims=True), np.cov(x.T).reshape(1, d, d)
    model = None
    try:
        for k in range(2, n_states + 1):
            if model is None:
                badness = _mahalanobis(x, means[0], covs[0])
            else:
                means, covs = model.means_, np.asarray(model.covars_)
                badness = -log_densities(model, x).max(axis=1)
            rows = np.argsort(-badness, kind="stable")[:size]
            nxt = make(k)
            nxt.startprob_ = np.full(k, 1.0 / k)
            # persistent regimes to start from (EM moves them; the prior still applies)
            off = 0.05 / (k - 1)
            nxt.transmat_ = np.full((k, k), off) + np.eye(k) * (0.95 - off)
            nxt.means_ = np.vstack([means, x[rows].mean(axis=0)])
            new_cov = np.cov(x[rows].T).reshape(d, d) + 1e-3 * np.eye(d)  # hmmlearn's min_covar
            nxt.covars_ = _from_full(np.concatenate([covs, new_cov[None]]), nxt.covariance_type)
            if k < n_states:
                with _quiet():
                    nxt.fit(x)
            model = nxt
    except (ValueError, np.linalg.LinAlgError, DataError):
        return None
    return model


def _mahalanobis(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    z = np.linalg.solve(np.linalg.cholesky(cov), (x - mean).T)
    return (z * z).sum(axis=0)


@contextmanager
def _quiet():
    """hmmlearn's EM without its log lines and warnings (EM's tiny likelihood dips are judged
    by :func:`_converged`)."""
    hmm_log = logging.getLogger("hmmlearn")
    level = hmm_log.level
    hmm_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hmm_log.setLevel(level)


def _converged(monitor, tol: float) -> bool:
    """EM stopped because the log-likelihood gain fell below ``tol``.

    hmmlearn's own ``monitor_.converged`` is also True when EM merely ran out of ``n_iter``;
    that case is reported here as not converged.
    """
    hist = list(monitor.history)
    return len(hist) >= 2 and abs(hist[-1] - hist[-2]) < tol


def _from_full(covs: np.ndarray, covariance_type: str) -> np.ndarray:
    if covariance_type == "full":
        return covs
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in covs])
    raise ConfigError(
        f"covariance_type {covariance_type!r} is not supported; use 'full' or 'diag'"
    )


@dataclass(frozen=True)
class RegimeResult:
    """Online (filtered, out-of-sample) regime probabilities and the fits that made them."""

    probabilities: pd.DataFrame  # one row per date after the first fit; bull/bear/sideways
    fits: tuple[HMMFit, ...]  # in order; fits[i] labels the sessions after fits[i].train_end
    segments: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]  # dates each fit labelled

    @property
    def labels(self) -> pd.Series:
        return self.probabilities.idxmax(axis=1).rename("regime")

    @property
    def confidence(self) -> pd.Series:
        return self.probabilities.max(axis=1).rename("confidence")

    @property
    def last_fit(self) -> HMMFit:
        return self.fits[-1]

    def unconverged(self) -> list[pd.Timestamp]:
        """Training-end dates of fits whose best restart did not converge."""
        return [f.train_end for f in self.fits if not f.converged]

    def to_api(self, history: int | None = None) -> dict:
        """The mission's regime API shape; ``history`` keeps only the last N dates."""
        probs = self.probabilities if history is None else self.probabilities.iloc[-history:]
        labels, conf = self.labels, self.confidence
        last = self.probabilities.iloc[-1]
        return {
            "as_of": self.probabilities.index[-1],
            "current_regime": labels.iloc[-1],
            "confidence": float(conf.iloc[-1]),
            "regime_probabilities": {k: float(v) for k, v in last.items()},
            "regime_history": [
                {"date": date, "regime": label, "confidence": c,
                 "probabilities": dict(zip(probs.columns, row))}
                for date, label, c, row in zip(
                    probs.index, labels.loc[probs.index].tolist(),
                    conf.loc[probs.index].astype(float).tolist(),
                    probs.to_numpy(dtype=float).tolist())
            ],
        }


def online_regimes(
    features: pd.DataFrame,
    *,
    min_train: int = 504,
    refit_every: int = 63,
    train_window: int | None = None,
    warm_start: bool = True,
    on_fit=None,
    **fit_kwargs,
) -> RegimeResult:
    """Label every session after the first ``min_train`` with filtered probabilities: the batch
    run of :class:`autoport.regime.online.OnlineRegimeFilter` (its docstring states the refit
    grid). The label on any date depends on rows up to that date only. ``on_fit(done, total)``
    is called after each refit (a progress bar)."""
    from autoport.regime.online import OnlineRegimeFilter

    online = OnlineRegimeFilter(min_train=min_train, refit_every=refit_every,
                                train_window=train_window, warm_start=warm_start, **fit_kwargs)
    online.on_fit = on_fit
    if len(features) <= min_train:
        raise DataError(
            f"{len(features)} sessions of features leave nothing to label after min_train "
            f"{min_train}; pass a longer history or lower min_train"
        )
    return online.run(features)


def in_sample_probabilities(features: pd.DataFrame, **fit_kwargs) -> pd.DataFrame:
    """Smoothed (forward-backward) probabilities of one fit on all rows.

    In-sample description only: each date's value uses later data. Not an online label.
    """
    fit = fit_hmm(features, **fit_kwargs)
    return fit.smoothed(features)


def fit_to_dict(fit: HMMFit) -> dict:
    """Everything needed to rebuild ``fit`` (parameters, scaler, names), JSON-ready; a jump
    model fit writes its own format."""
    if getattr(fit, "kind", "hmm") != "hmm":
        return fit.to_dict()
    m = fit.model
    return {
        "format": "autoport.regime.hmm/1",
        "columns": list(fit.columns),
        "state_names": list(fit.state_names),
        "covariance_type": m.covariance_type,
        "startprob": m.startprob_.tolist(),
        "transmat": m.transmat_.tolist(),
        "means": m.means_.tolist(),
        "covars": m.covars_.tolist(),  # full matrices whatever the covariance type
        "scaler_mean": fit.scaler.mean.tolist(),
        "scaler_std": fit.scaler.std.tolist(),
        "log_likelihood": fit.log_likelihood,
        "converged": fit.converged,
        "n_iter": fit.n_iter,
        "restarts": [r.__dict__ for r in fit.restarts],
        "train_start": str(fit.train_start.date()),
        "train_end": str(fit.train_end.date()),
        "n_train": fit.n_train,
        "state_stats": fit.state_stats,
    }


def fit_from_dict(d: dict) -> HMMFit:
    """Rebuild an :class:`HMMFit` written by :func:`fit_to_dict` (for example from MLflow)."""
    from hmmlearn.hmm import GaussianHMM

    if d.get("format") == "autoport.regime.jump/1":
        from autoport.regime.jump import JumpFit

        return JumpFit.from_dict(d)
    if d.get("format") != "autoport.regime.hmm/1":
        raise DataError("not a regime model file (format autoport.regime.hmm/1 expected)")
    model = GaussianHMM(n_components=len(d["state_names"]), covariance_type="full",
                        init_params="")
    model.startprob_ = np.asarray(d["startprob"])
    model.transmat_ = np.asarray(d["transmat"])
    model.means_ = np.asarray(d["means"])
    model.covars_ = np.asarray(d["covars"])
    model.n_features = model.means_.shape[1]
    return HMMFit(
        model=model,
        scaler=Scaler(np.asarray(d["scaler_mean"]), np.asarray(d["scaler_std"])),
        columns=tuple(d["columns"]),
        state_names=tuple(d["state_names"]),
        log_likelihood=float(d["log_likelihood"]),
        converged=bool(d["converged"]),
        n_iter=int(d["n_iter"]),
        restarts=tuple(Restart(**r) for r in d["restarts"]),
        train_start=pd.Timestamp(d["train_start"]),
        train_end=pd.Timestamp(d["train_end"]),
        n_train=int(d["n_train"]),
        state_stats=d["state_stats"],
    )
