"""The statistical jump model (Nystrup, Lindström and Madsen 2020), fitted by ``jumpmodels``.

A jump model clusters feature rows into ``n_states`` centres and pays ``jump_penalty`` for each
change of state, so its regimes persist unless the features move far enough to pay for a
switch (Shu, Yu and Mulvey 2024 report more persistent regimes and better bear-market detection
than an HMM). ``jumpmodels.JumpModel`` fits the centres (coordinate descent from k-means++
starts) on standardized training rows; the online label of a row is the state of least
cumulative cost over paths ending there, the forward dynamic programme over rows up to that
row (``JumpModel.predict_online``, reproduced in :meth:`JumpFit.step` so that it can continue
from a carry; ``tests/regime`` checks the two agree). Labels are hard: the label's probability
is 1.

States are named by the rule of :mod:`autoport.regime.hmm` (bear: the highest volatility of the
``ret`` column over the training rows labelled in that state; bull: the higher mean return of
the rest). The ``ret`` column itself names states but is not clustered when other columns are
there: one day's return is noise next to the smoothed features.
"""

from __future__ import annotations

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
        x = self.scaler.transform(rows)[:, self.clustered]
        diff = x[:, None, :] - self.centers[None, :, :]
        return 0.5 * (diff * diff).sum(axis=2)

    def _penalty(self) -> np.ndarray:
        k = len(self.centers)
        return self.jump_penalty * (np.ones((k, k)) - np.eye(k))

    def start(self, train: np.ndarray) -> np.ndarray | None:
        """The carry after the training rows: the last row of the DP value matrix."""
        _, carry = self.step(train, None)
        return carry

    def step(self, rows: np.ndarray, carry: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Online labels of raw ``rows`` as one-hot regime probabilities, continuing the DP
        from ``carry`` (None: the first row starts it), and the DP's last value row."""
        loss = self._loss(np.asarray(rows, dtype=float))
        pen = self._penalty()
        values = np.empty_like(loss)
        prev = carry
        for t in range(len(loss)):
            values[t] = loss[t] if prev is None else loss[t] + (prev[:, None] + pen).min(axis=0)
            prev = values[t]
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
        from jumpmodels.jump import dp

        check_columns(features, self.columns)
        labels, _ = dp(self._loss(features.to_numpy(dtype=float)), self._penalty())
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


def fit_jump(
    features: pd.DataFrame,
    *,
    n_states: int = 2,
    jump_penalty: float = 50.0,
    n_init: int = 10,
    seed: int = 0,
    max_iter: int = 100,
) -> JumpFit:
    """Fit a jump model with ``jumpmodels`` on the standardized training ``features``."""
    from jumpmodels.jump import JumpModel

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
    model = JumpModel(n_components=n_states, jump_penalty=jump_penalty, cont=False,
                      n_init=n_init, max_iter=max_iter, random_state=seed)
    model.fit(x, sort_by=None)
    labels = np.asarray(model.labels_, dtype=int)
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
        centers=np.asarray(model.centers_, dtype=float), jump_penalty=float(jump_penalty),
        scaler=scaler, columns=cols, clustered=clustered, state_names=names,
        objective=float(model.val_), train_start=features.index[0],
        train_end=features.index[-1], n_train=len(features), state_stats=stats,
    )
