"""The detectors the online regime filter drives: one interface, an HMM and a jump model.

A detector fits a model on training rows (:meth:`fit`, given the previous grid point's fit to
warm-start from); the fit labels rows online through two steps,
``start(train_rows) -> carry`` (the recursion's state after the training rows) and
``step(rows, carry) -> (probabilities, carry)`` (bull/bear/sideways of each row from rows up to
it, and the state after them). :class:`autoport.regime.online.OnlineRegimeFilter` owns the refit
grid and calls nothing else, so every detector gets the same no-look-ahead guarantee and the
same incremental = batch equality.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from autoport.errors import DataError
from autoport.regime.hmm import fit_hmm
from autoport.regime.jump import fit_jump


class RegimeFit(Protocol):
    columns: tuple[str, ...]
    state_names: tuple[str, ...]
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    n_train: int
    converged: bool
    state_stats: dict

    def start(self, train: np.ndarray): ...

    def step(self, rows: np.ndarray, carry) -> tuple[np.ndarray, object]: ...


class Detector(Protocol):
    def fit(self, train: pd.DataFrame, previous: RegimeFit | None) -> RegimeFit: ...


class HMMDetector:
    """Gaussian HMM: the first fit runs ``n_restarts`` seeded restarts and the split start;
    later fits start EM from the previous fit (``warm_start``), the split start and
    ``refit_restarts`` seeded restarts (the highest likelihood wins, so a refit leaves a warm
    start stuck in a poor optimum), and fall back to the seeded restarts if those fail."""

    def __init__(self, *, warm_start: bool = True, refit_restarts: int = 0, **fit_kwargs):
        self.warm_start = warm_start
        self.refit_restarts = refit_restarts
        self.fit_kwargs = fit_kwargs

    def fit(self, train: pd.DataFrame, previous=None):
        previous = previous if self.warm_start else None
        if previous is not None:
            kwargs = {**self.fit_kwargs, "n_restarts": self.refit_restarts}
            try:
                return fit_hmm(train, init=previous, **kwargs)
            except DataError:  # the warm start failed: fall back to the seeded restarts
                pass
        return fit_hmm(train, init=previous, **self.fit_kwargs)


class JumpDetector:
    """Statistical jump model: every fit from ``n_init`` k-means++ starts (a fit takes well
    under a second, so no warm start is needed)."""

    def __init__(self, *, n_states: int = 2, jump_penalty: float = 50.0, n_init: int = 10,
                 seed: int = 0):
        self.kwargs = dict(n_states=n_states, jump_penalty=jump_penalty, n_init=n_init,
                           seed=seed)

    def fit(self, train: pd.DataFrame, previous=None):
        return fit_jump(train, **self.kwargs)


def make_detector(config) -> Detector:
    """The detector of a :class:`~autoport.regime.config.DetectorConfig`."""
    if config.model == "jump":
        return JumpDetector(n_states=config.n_states, jump_penalty=config.jump_penalty,
                            n_init=config.n_restarts, seed=config.seed)
    return HMMDetector(refit_restarts=config.refit_restarts, n_states=config.n_states,
                       **config.fit_kwargs())
