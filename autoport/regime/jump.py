"""The statistical jump model (Nystrup, Lindström and Madsen 2020), ``jumpmodels``' fit with a
compiled dynamic programme.

A jump model clusters feature rows into ``n_states`` centres and pays ``jump_penalty`` for each
change of state, so its regimes persist unless the features move far enough to pay for a
switch (Shu, Yu and Mulvey 2024 report more persistent regimes and better bear-market detection
than an HMM). :func:`fit_jump` fits the centres on standardized training rows by
``jumpmodels.JumpModel``'s algorithm, step for step (coordinate descent from k-means++ starts,
the same draws, stopping rule and state order), but solves each state assignment with
hmmlearn's compiled Viterbi pass instead of ``jumpmodels``' Python loop: the assignment
minimises loss plus ``jump_penalty`` per switch, which is Viterbi with log-densities ``-loss``
and log-transitions ``-jump_penalty`` off the diagonal, 0 on it, the same sums negated (so the
same floating-point numbers; ``tests/regime`` checks labels, centres and objective against
``JumpModel`` itself). The Python programme took 80% of ``autoport regime``.

The online label of a row is the state of least cumulative cost over paths ending there, the
forward dynamic programme over rows up to that row (``JumpModel.predict_online``, reproduced
in :meth:`JumpFit.step` so that it can continue from a carry; ``tests/regime`` checks the two
agree). Labels are hard: the label's probability is 1.

States are named by the rule of :mod:`autoport.regime.hmm` (bear: the highest volatility of the
``ret`` column over the training rows labelled in that state; bull: the higher mean return of
the rest). The ``ret`` column itself names states but is not clustered when other columns are
there: one day's return is noise next to the smoothed features.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from autoport.errors import ConfigError, DataError
from autoport.regime.features import FEATURE_RET, Scaler, check_columns
from autoport.regime.hmm import REGIMES, market_weights, name_states, regime_order, to_regimes


@dataclass(frozen=True)
class JumpFit:
    """Fitted centres (standardized units) with the scaler, the clustered columns and names."""

    centers: np.ndarray  # (n_states, n_clustered)
    jump_penalty: float
    scaler: Scaler  # over every column
    columns: tuple[str, ...]
    clustered: np.ndarray  # indices of the clustered columns
    state_names: tuple[str, ...]
    objective: float
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    n_train: int
    state_stats: dict = field(default_factory=dict)
    converged: bool = True  # coordinate descent always stops at a fixed point or max_iter
    n_iter: int = 0
    restarts: tuple = ()

    kind = "jump"

    @property
    def log_likelihood(self) -> float:
        """Minus the fitted objective (no likelihood: reported where an HMM reports one)."""
        return -self.objective

    def order(self) -> np.ndarray:
        return regime_order(self.state_names)

    def _loss(self, rows: np.ndarray) -> np.ndarray:
        return half_squared_distances(self.scaler.transform(rows)[:, self.clustered],
                                      self.centers)

    def start(self, train: np.ndarray) -> np.ndarray | None:
        """The carry after the training rows (:func:`carry_after`)."""
        return carry_after(self._loss(np.asarray(train, dtype=float)), self.jump_penalty)

    def step(self, rows: np.ndarray, carry: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Online labels of raw ``rows`` as one-hot regime probabilities, continuing the DP
        from ``carry`` (None: the first row starts it), and the DP's last value row."""
        loss = self._loss(np.asarray(rows, dtype=float))
        values = forward_values(loss, self.jump_penalty, carry)
        hidden = np.eye(len(self.centers))[values.argmin(axis=1)]
        return self.to_regimes(hidden), values[-1].copy()

    def to_regimes(self, hidden: np.ndarray) -> np.ndarray:
        return to_regimes(hidden, self.state_names)

    def filter(self, features: pd.DataFrame) -> pd.DataFrame:
        """Online labels of every row (one-hot, columns bull/bear/sideways)."""
        check_columns(features, self.columns)
        probs, _ = self.step(features.to_numpy(dtype=float), None)
        return pd.DataFrame(probs, index=features.index, columns=list(REGIMES))

    def smoothed(self, features: pd.DataFrame) -> pd.DataFrame:
        """The jointly optimal path (uses later rows): in-sample description only."""
        check_columns(features, self.columns)
        labels, _ = assign_states(self._loss(features.to_numpy(dtype=float)), self.jump_penalty)
        hidden = np.eye(len(self.centers))[labels]
        return pd.DataFrame(self.to_regimes(hidden), index=features.index,
                            columns=list(REGIMES))

    def describe(self) -> dict:
        return {
            "model": "statistical jump model (jumpmodels)",
            "features": list(self.columns),
            "train_start": self.train_start,
            "train_end": self.train_end,
            "n_train": self.n_train,
            "jump_penalty": self.jump_penalty,
            "objective": self.objective,
            "states": self.state_stats,
        }

    def to_dict(self) -> dict:
        return {
            "format": "autoport.regime.jump/1",
            "columns": list(self.columns),
            "clustered": self.clustered.tolist(),
            "state_names": list(self.state_names),
            "centers": self.centers.tolist(),
            "jump_penalty": self.jump_penalty,
            "scaler_mean": self.scaler.mean.tolist(),
            "scaler_std": self.scaler.std.tolist(),
            "objective": self.objective,
            "train_start": str(self.train_start.date()),
            "train_end": str(self.train_end.date()),
            "n_train": self.n_train,
            "state_stats": self.state_stats,
        }

    @classmethod
    def from_dict(cls, d: dict) -> JumpFit:
        if d.get("format") != "autoport.regime.jump/1":
            raise DataError("not a jump model file (format autoport.regime.jump/1 expected)")
        return cls(
            # dtype=float: a JSON null (how NaN is logged) reads back as NaN
            centers=np.asarray(d["centers"], dtype=float), jump_penalty=float(d["jump_penalty"]),
            scaler=Scaler(np.asarray(d["scaler_mean"], dtype=float),
                          np.asarray(d["scaler_std"], dtype=float)),
            columns=tuple(d["columns"]), clustered=np.asarray(d["clustered"], dtype=int),
            state_names=tuple(d["state_names"]), objective=float(d["objective"]),
            train_start=pd.Timestamp(d["train_start"]), train_end=pd.Timestamp(d["train_end"]),
            n_train=int(d["n_train"]), state_stats=d["state_stats"],
        )


def half_squared_distances(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """``0.5 * ((x[:, None, :] - centers[None]) ** 2).sum(axis=2)``, shape (rows, states):
    the online labels' losses, numpy's numbers to the bit. numpy sums each row's ``F`` squared
    differences by its pairwise rule (:func:`_pairwise`); on many rows the same sums taken a
    column at a time over all rows cost a tenth (the three-dimensional array's reduction runs
    one short inner loop per row and state), where a check of the rule on this numpy holds."""
    n, f = x.shape
    if n < 256 or not _numpy_sums_pairwise(f):
        diff = x[:, None, :] - centers[None, :, :]
        return 0.5 * (diff * diff).sum(axis=2)
    columns = np.ascontiguousarray(x.T)
    terms = []
    for j, column in enumerate(columns):
        d = column - centers[:, j, None]
        terms.append(np.multiply(d, d, out=d))
    total = _pairwise(terms)
    out = np.empty((n, len(centers)))
    for state, row in enumerate(total):
        np.multiply(row, 0.5, out=out[:, state])
    return out


def _pairwise(terms: list) -> np.ndarray:
    """The sum of ``terms`` in the order numpy's ``pairwise_sum`` adds a contiguous run of
    that many numbers: fewer than 8 one after another; up to 128 in eight running sums
    (``r[j] += a[i + j]``) joined as ``((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))``, then the rest one
    after another; more split in two at a multiple of 8 below the half."""
    n = len(terms)
    if n < 8:
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total
    if n <= 128:
        r = list(terms[:8])
        i = 8
        while i < n - n % 8:
            r = [a + b for a, b in zip(r, terms[i:i + 8])]
            i += 8
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for t in terms[i:]:
            total = total + t
        return total
    half = n // 2
    half -= half % 8
    return _pairwise(terms[:half]) + _pairwise(terms[half:])


@functools.lru_cache(maxsize=None)
def _numpy_sums_pairwise(f: int) -> bool:
    """Whether this numpy reduces ``F``-long rows as :func:`_pairwise` does (checked once a
    process on rows at every alignment; else the caller takes numpy's own reduction)."""
    rng = np.random.default_rng(f)
    x, centers = rng.standard_normal((97, f)), rng.standard_normal((3, f))
    diff = x[:, None, :] - centers[None, :, :]
    want = (diff * diff).sum(axis=2)
    got = _pairwise([(x[:, j][None, :] - centers[:, j, None]) ** 2 for j in range(f)]).T
    return bool(np.array_equal(got, want))


def forward_values(loss: np.ndarray, jump_penalty: float,
                   carry: np.ndarray | None = None) -> np.ndarray:
    """The DP's value matrix: ``v[t, k]`` is the least cost of a path over rows ``..t`` ending
    in state ``k`` (``jumpmodels.jump.dp(..., return_value_mx=True)``, continued from
    ``carry``). ``min_j v[j] + penalty[j, k]`` is ``min(v[k], min_j v[j] + jump_penalty)``
    (monotone rounding: the same float), so each row is a few scalar operations."""
    n, k = loss.shape
    values = np.empty((n, k))
    if n == 0:
        return values
    if not np.isfinite(loss).all():  # NaN centres (an empty state): numpy's NaN rules
        pen = jump_penalty * (np.ones((k, k)) - np.eye(k))
        prev = carry
        for t in range(n):
            values[t] = loss[t] if prev is None else loss[t] + (prev[:, None] + pen).min(axis=0)
            prev = values[t]
        return values
    lam = float(jump_penalty)
    rows = loss.tolist()
    out = []
    prev = None if carry is None else [float(v) for v in carry]
    for row in rows:
        if prev is None:
            prev = row
        else:
            cap = min(prev) + lam
            prev = [x + (p if p < cap else cap) for x, p in zip(row, prev)]
        out.append(prev)
    values[:] = out
    return values


def carry_after(loss: np.ndarray, jump_penalty: float) -> np.ndarray:
    """What the forward programme carries past the last row of ``loss``: its value row ``v``
    with each entry capped at ``min(v) + jump_penalty``, all a continuation reads (the next row
    takes ``min(v[k], min(v) + jump_penalty)``, unchanged by the cap, the same floats).

    Entry ``k`` is minus the best log-probability of hmmlearn's compiled Viterbi pass over the
    rows plus one row allowing state ``k`` only: the cost of the best path that is in ``k``
    after one more transition, ``min_j v[j] + penalty[j, k]``; so the carry of a long training
    window takes ``n_states`` compiled passes instead of a Python loop over its rows."""
    from hmmlearn import _hmmc

    n, k = loss.shape
    if n == 0 or not np.isfinite(loss).all() or not _compiled_penalty_is_exact(jump_penalty, k):
        return forward_values(loss, jump_penalty)[-1].copy() if n else None
    frames = np.empty((n + 1, k))
    np.negative(loss, out=frames[:n])
    trans = np.exp(-jump_penalty * (np.ones((k, k)) - np.eye(k)))
    carry = np.empty(k)
    for state in range(k):
        frames[n] = -np.inf
        frames[n, state] = 0.0
        carry[state] = -_hmmc.viterbi(np.ones(k), trans, frames)[0]
    return carry


@functools.lru_cache(maxsize=64)
def _compiled_penalty_is_exact(jump_penalty: float, k: int) -> bool:
    """hmmlearn's Viterbi takes the transition matrix and logs it: ``log(exp(-λ))`` must give
    ``-λ`` back exactly (true below about 700; beyond, ``exp`` underflows), checked through
    the compiled pass itself on a two-row path forced to switch once (a property of the two
    numbers alone, so each pair is checked once a process)."""
    from hmmlearn import _hmmc

    frames = np.full((2, k), -np.inf)
    frames[0, 0] = frames[1, 1] = 0.0
    log_prob, _ = _hmmc.viterbi(np.ones(k), _transitions(jump_penalty, k), frames)
    return bool(log_prob == -jump_penalty)


def _transitions(jump_penalty: float, k: int) -> np.ndarray:
    """The transition matrix whose log hmmlearn's Viterbi reads as the jump penalty."""
    return np.exp(-jump_penalty * (np.ones((k, k)) - np.eye(k)))


def assign_states(loss: np.ndarray, jump_penalty: float) -> tuple[np.ndarray, float]:
    """The path minimising ``sum loss[t, s_t] + jump_penalty * switches`` and that minimum:
    ``jumpmodels.jump.dp`` (NaN losses count as infinite), by hmmlearn's compiled Viterbi
    where the penalty survives its log exactly, else by ``dp`` itself. Ties between paths
    (probability zero on continuous data) may break the other way."""
    n, k = loss.shape
    loss = np.where(np.isnan(loss), np.inf, loss)
    return _viterbi(np.negative(loss), jump_penalty)


def _viterbi(scores: np.ndarray, jump_penalty: float) -> tuple[np.ndarray, float]:
    """:func:`assign_states` of ``scores = -loss`` (C-contiguous, no NaN; ``scores`` may be
    overwritten)."""
    from hmmlearn import _hmmc

    k = scores.shape[1]
    if not _compiled_penalty_is_exact(jump_penalty, k):
        from jumpmodels.jump import dp

        np.negative(scores, out=scores)
        return dp(scores, jump_penalty * (np.ones((k, k)) - np.eye(k)))
    log_prob, labels = _hmmc.viterbi(np.ones(k), _transitions(jump_penalty, k), scores)
    return np.asarray(labels, dtype=int), -float(log_prob)


class _EStep:
    """The state assignment of every row of ``x`` given centres (:func:`assign_states` of
    ``0.5 * cdist(x, centers, "sqeuclidean")``, scipy's arithmetic: each squared distance is
    the sum of the squared differences in column order from 0), computed a column at a time
    over all rows (scipy's pass goes row by row: this is the same sums in the same order,
    in half the time), and the M step's state means. ``step(labels)`` (the means, then the
    assignment they give) is a function of ``labels`` alone on the fit's ``x``, so it is
    remembered: k-means++ restarts that meet on the way to the same fixed point compute its
    steps once."""

    def __init__(self, x: np.ndarray, jump_penalty: float, k: int) -> None:
        self.x, self.k, self.jump_penalty = x, k, float(jump_penalty)
        self.columns = np.ascontiguousarray(x.T)
        self.finite = bool(np.isfinite(x).all())
        self._steps: dict[bytes, tuple[np.ndarray, np.ndarray, float]] = {}

    def __call__(self, centers: np.ndarray) -> tuple[np.ndarray, float]:
        n, k = len(self.x), self.k
        acc = np.zeros((k, n))
        diff = np.empty((k, n))
        for f, column in enumerate(self.columns):
            np.subtract(column, centers[:, f, None], out=diff)
            np.multiply(diff, diff, out=diff)
            np.add(acc, diff, out=acc)
        # -0.5 * d exactly (a power of 2): the Viterbi's scores, row-major (one strided copy
        # per state: a fifth of the time of a transposing copy)
        scores = np.empty((n, k))
        for j in range(k):
            np.multiply(acc[j], -0.5, out=scores[:, j])
        if not (self.finite and np.isfinite(centers).all()):
            scores[np.isnan(scores)] = -np.inf
        return _viterbi(scores, self.jump_penalty)

    def step(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(centres, labels, objective) after one M step and one E step from ``labels``."""
        key = labels.tobytes()
        found = self._steps.get(key)
        if found is None:
            centers = _cluster_means(self.x, labels, self.k)
            found = self._steps[key] = (centers, *self(centers))
        return found


def _same_clustering(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Equal up to a relabelling (``jumpmodels.utils.is_same_clustering``: as many label
    pairs as labels on either side), from one count of the pairs."""
    if a is None or b is None:
        return False
    m = int(b.max()) + 1
    pairs = np.bincount(a * m + b, minlength=(int(a.max()) + 1) * m).reshape(-1, m) != 0
    return int(pairs.any(axis=1).sum()) == int(pairs.any(axis=0).sum()) == int(pairs.sum())


def _cluster_means(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """The M step: each state's mean row, NaN for an empty state (``weighted_mean_cluster``
    with one-hot weights, the same arithmetic; the counts, sums of ones, are exact integers
    however they are added)."""
    onehot = np.zeros((len(labels), k))
    onehot[np.arange(len(labels)), labels] = 1.0
    counts = np.bincount(labels, minlength=k).astype(float)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (onehot.T @ x) / counts


def _random_state(seed) -> np.random.RandomState:
    """``sklearn.utils.check_random_state``: a seed, a RandomState, or None (numpy's global)."""
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, np.random.RandomState):
        return seed
    return np.random.RandomState(seed)


def _kmeans_plusplus(x: np.ndarray, k: int, rng: np.random.RandomState) -> np.ndarray:
    """``sklearn.cluster.kmeans_plusplus(x, k, random_state=rng)[0]`` (dense float64, unit
    weights): the same draws and the same arithmetic, without importing sklearn.cluster (a
    second of ``autoport regime``'s start-up); ``tests/regime`` checks it against sklearn."""
    return _PlusPlus(x)(k, rng)


class _PlusPlus:
    """k-means++ starts on one ``x``: what does not depend on the draws (the row norms, the
    first centre's cumulative distribution) is computed once for all restarts."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        n = len(x)
        self.weights = np.ones(n)
        self.norms = np.einsum("ij,ij->i", x, x)
        # RandomState.choice(n, p=weights / weights.sum()) is cdf.searchsorted(random_sample(),
        # side="right") with this cdf (numpy's legacy stream, frozen)
        cdf = (self.weights / self.weights.sum()).cumsum()
        cdf /= cdf[-1]
        self.cdf = cdf

    def _squared_distances(self, rows: np.ndarray) -> np.ndarray:
        """sklearn's ``_euclidean_distances`` of ``rows`` to every row, squared."""
        d = -2 * (rows @ self.x.T)
        d += np.einsum("ij,ij->i", rows, rows)[:, None]
        d += self.norms[None, :]
        return np.maximum(d, 0, out=d)

    def __call__(self, k: int, rng: np.random.RandomState) -> np.ndarray:
        x, weights = self.x, self.weights
        n, f = x.shape
        trials = 2 + int(np.log(k))
        centers = np.empty((k, f), dtype=x.dtype)
        centers[0] = x[int(self.cdf.searchsorted(rng.random_sample(), side="right"))]
        closest = self._squared_distances(centers[0, np.newaxis])
        potential = closest @ weights
        for c in range(1, k):
            # weights * closest is closest (unit weights): the same cumulative sums
            ids = np.searchsorted(np.cumsum(closest), rng.uniform(size=trials) * potential)
            np.clip(ids, None, closest.size - 1, out=ids)
            dist = self._squared_distances(x[ids])
            np.minimum(closest, dist, out=dist)
            pots = dist @ weights.reshape(-1, 1)
            best = np.argmin(pots)
            potential, closest = pots[best], dist[best]
            centers[c] = x[ids[best]]
        return centers


def coordinate_descent(x: np.ndarray, n_states: int, jump_penalty: float, *, n_init: int,
                       seed, max_iter: int = 100, tol: float = 1e-8,
                       ) -> tuple[np.ndarray, np.ndarray, float]:
    """``jumpmodels.JumpModel(cont=False).fit(x, sort_by=None)`` with the compiled state
    assignment: (centres, labels, objective), states in decreasing frequency as there."""
    rng = _random_state(seed)
    plus = _PlusPlus(x)
    starts = [plus(n_states, rng) for _ in range(n_init)]
    best_val, best_labels, best_centers = np.inf, None, None
    e_step = _EStep(x, jump_penalty, n_states)
    for centers in starts:
        labels_pre, val_pre = None, np.inf
        labels, val = e_step(centers)
        done = 0
        while done < max_iter and not _same_clustering(labels, labels_pre) and val_pre - val > tol:
            done += 1
            labels_pre, val_pre = labels, val
            centers, labels, val = e_step.step(labels)
        if not _same_clustering(best_labels, labels) and val < best_val:
            best_val, best_labels, best_centers = val, labels, centers
    # jumpmodels sorts states by decreasing frequency when given no return series
    freq = np.bincount(best_labels, minlength=n_states).astype(float)
    order = np.argsort(-freq)
    relabel = np.empty(n_states, dtype=int)
    relabel[order] = np.arange(n_states)
    return best_centers[order], relabel[best_labels], float(best_val)


def fit_jump(
    features: pd.DataFrame,
    *,
    n_states: int = 2,
    jump_penalty: float = 50.0,
    n_init: int = 10,
    seed: int = 0,
    max_iter: int = 100,
) -> JumpFit:
    """Fit a jump model on the standardized training ``features`` (``jumpmodels``' algorithm,
    see the module docstring)."""
    if n_states not in (2, 3):
        raise ConfigError(f"n_states {n_states} is not supported; use 2 or 3")
    if jump_penalty < 0:
        raise ConfigError(f"jump_penalty {jump_penalty} must be 0 or more")
    if len(features) < 60:
        raise DataError(
            f"a jump model fit needs at least 60 sessions of features, got {len(features)}; "
            "pass a longer history or a smaller min_train"
        )
    cols = tuple(features.columns)
    market = market_weights(cols)
    clustered = np.array([i for i, c in enumerate(cols) if c != FEATURE_RET] or [0])
    raw = features.to_numpy(dtype=float)
    scaler = Scaler.fit(raw)
    x = scaler.transform(raw)[:, clustered]
    centers, labels, objective = coordinate_descent(
        x, n_states, jump_penalty, n_init=n_init, seed=seed, max_iter=max_iter)
    ret = raw @ market
    means = np.array([ret[labels == k].mean() if (labels == k).any() else 0.0
                      for k in range(n_states)])
    vols = np.array([ret[labels == k].std(ddof=1) if (labels == k).sum() > 1 else 0.0
                     for k in range(n_states)])
    names = name_states(means, vols)
    stats = {}
    for k in range(n_states):
        share = float((labels == k).mean())
        runs = int(((labels[1:] == k) & (labels[:-1] != k)).sum() + (labels[0] == k))
        stats[names[k]] = {
            "mean_return_daily": float(means[k]),
            "volatility_daily": float(vols[k]),
            "mean_return_annual": float(means[k] * 252),
            "volatility_annual": float(vols[k] * np.sqrt(252)),
            # mean run length of the training labels (a jump model has no transition matrix)
            "expected_duration_days": float(share * len(labels) / max(runs, 1)),
            "share_of_training_days": share,
        }
    return JumpFit(
        centers=np.asarray(centers, dtype=float), jump_penalty=float(jump_penalty),
        scaler=scaler, columns=cols, clustered=clustered, state_names=names,
        objective=objective, train_start=features.index[0],
        train_end=features.index[-1], n_train=len(features), state_stats=stats,
    )
