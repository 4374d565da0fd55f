"""Honest selection: how much a search over many settings flatters the setting it picks.

When many trials are scored on the same validation data, the best one's Sharpe ratio is biased
upwards by the search itself. Two corrections are reported beside every winner:

- the **deflated Sharpe ratio** (Bailey & López de Prado 2014): the probability that the
  winner's true Sharpe ratio is above zero once the number of trials, the spread of their
  Sharpe ratios and the winner's skew and kurtosis are accounted for. The arithmetic is
  skfolio's (``skfolio.measures.deflated_sharpe_ratio``); this module gathers its parts into one
  result so a report can show the benchmark it was held to;
- the **probability of backtest overfitting** (Bailey, Borwein, López de Prado & Zhu 2017) by
  combinatorially symmetric cross-validation (CSCV): split the trials' validation returns into
  ``S`` contiguous blocks, and for each of the C(S, S/2) ways of calling half of them in-sample,
  pick the in-sample best trial and see where it ranks out of sample. PBO is the share of splits
  in which it ranks at or below the median (logit ≤ 0).

Everything here is per period (daily returns in, daily Sharpe ratios): nothing is annualised.
Pure functions of arrays; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from itertools import combinations

import numpy as np
from scipy.stats import rankdata

from autoport.errors import DataError


class SelectionMetric(str, Enum):
    """What CSCV ranks trials by inside each half."""

    SHARPE = "sharpe"
    MEAN = "mean"


@dataclass(frozen=True)
class DeflatedSharpe:
    """The winner's Sharpe ratio beside the maximum that chance alone would be expected to give.

    ``dsr`` is a probability (report it as such: ≥ 0.95 is the usual bar). Sharpe ratios are per
    period, with the sample standard deviation (ddof 1).
    """

    dsr: float
    sharpe: float
    benchmark_sharpe: float  # expected maximum Sharpe of n_trials unskilled trials
    psr: float  # probability the true Sharpe ratio is above zero, before deflation
    n_trials: int
    trial_sharpe_std: float
    n_observations: int


@dataclass(frozen=True)
class BacktestOverfitting:
    """CSCV's verdict over ``n_splits`` in-sample/out-of-sample splits of the trials.

    ``logits[c]`` is the logit of the in-sample winner's relative out-of-sample rank in split
    ``c`` (rank / (N + 1), ranks ascending, ties averaged); ``pbo`` is the share of logits ≤ 0.
    ``prob_oos_loss`` is the share of splits in which the winner's out-of-sample metric is below 0.
    """

    pbo: float
    logits: np.ndarray
    winner_in_sample: np.ndarray  # the winner's metric in-sample, one per split
    winner_out_of_sample: np.ndarray  # the same trial's metric out-of-sample
    prob_oos_loss: float
    n_blocks: int
    n_trials: int

    @property
    def n_splits(self) -> int:
        return len(self.logits)


def sharpe_ratios(returns: np.ndarray) -> np.ndarray:
    """Per-period Sharpe ratio of each column (mean over sample standard deviation, ddof 1).

    Parameters
    ----------
    returns
        Per-period returns, shape (T, K): T periods by K series.
    """
    r = _matrix(returns, "returns")
    std = r.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std > 0, r.mean(axis=0) / std, np.nan)


def deflated_sharpe(selected_returns: np.ndarray, trial_sharpes: np.ndarray) -> DeflatedSharpe:
    """Deflate the selected trial's Sharpe ratio by the search that chose it.

    ``selected_returns``: the winner's per-period returns on the period it was scored on.
    ``trial_sharpes``: every trial's per-period Sharpe ratio on that same period, the winner's
    included (their count and spread set the benchmark). NaN trials (failed ones) are dropped.

    Parameters
    ----------
    selected_returns
        The selected trial's per-period returns, shape (T,), on the period it was scored on.
    trial_sharpes
        Every trial's per-period (not annualised) Sharpe ratio on that period, shape (K,); NaN
        for a failed trial.
    """
    from skfolio.measures import (
        deflated_sharpe_ratio,
        expected_max_sharpe_ratio,
        probabilistic_sharpe_ratio,
    )

    r = np.asarray(selected_returns, dtype=float)
    if r.ndim != 1 or len(r) < 3 or not np.isfinite(r).all():
        raise DataError(
            "deflated Sharpe needs the selected trial's returns as one finite series of 3+ "
            f"periods; got shape {r.shape}"
        )
    trials = np.asarray(trial_sharpes, dtype=float)
    if trials.ndim != 1 or np.isinf(trials).any():
        raise DataError("trial Sharpe ratios must be one series of finite values (NaN = failed)")
    trials = trials[~np.isnan(trials)]
    if len(trials) == 0:
        raise DataError("deflated Sharpe needs at least one scored trial; all of them failed")
    spread = float(trials.std(ddof=1)) if len(trials) > 1 else 0.0
    return DeflatedSharpe(
        dsr=float(deflated_sharpe_ratio(r, trials)),
        sharpe=float(sharpe_ratios(r[:, None])[0]),
        benchmark_sharpe=float(
            expected_max_sharpe_ratio(
                trial_sharpe_ratio_mean=0.0,
                n_trials=len(trials),
                trial_sharpe_ratio_std=spread,
            )
        ),
        psr=float(probabilistic_sharpe_ratio(r, 0.0)),
        n_trials=len(trials),
        trial_sharpe_std=spread,
        n_observations=len(r),
    )


def backtest_overfitting(
    trial_returns: np.ndarray,
    n_blocks: int = 16,
    metric: SelectionMetric | str = SelectionMetric.SHARPE,
) -> BacktestOverfitting:
    """Probability of backtest overfitting by CSCV over ``trial_returns`` (periods × trials).

    Rows are split into ``n_blocks`` contiguous blocks of (nearly) equal length, as the paper
    does, so that serial dependence stays inside a block. The in-sample winner of a split is the
    first trial with the highest metric.

    Parameters
    ----------
    trial_returns
        Per-period returns of every trial, shape (T, K): T periods by K ≥ 2 trials.
    n_blocks
        Even number of contiguous blocks (T ≥ 2 × n_blocks); the splits are all the choices
        of half of them.
    metric
        ``sharpe`` or ``mean``: what ranks the trials in and out of sample.
    """
    r = _matrix(trial_returns, "trial returns")
    n_obs, n_trials = r.shape
    metric = SelectionMetric(metric)
    if n_trials < 2:
        raise DataError("PBO compares trials: it needs the returns of at least 2 trials")
    if n_blocks < 2 or n_blocks % 2:
        raise DataError(f"PBO needs an even number of blocks (2 or more); got {n_blocks}")
    if n_obs < 2 * n_blocks:
        raise DataError(
            f"PBO with {n_blocks} blocks needs at least {2 * n_blocks} periods; got {n_obs}: "
            "use fewer blocks or a longer validation period"
        )
    blocks = np.array_split(np.arange(n_obs), n_blocks)
    counts = np.array([len(b) for b in blocks], dtype=float)
    sums = np.array([r[b].sum(axis=0) for b in blocks])  # (blocks, trials)
    squares = np.array([(r[b] ** 2).sum(axis=0) for b in blocks])
    halves = np.array(
        [np.isin(np.arange(n_blocks), c) for c in combinations(range(n_blocks), n_blocks // 2)],
        dtype=float,
    )  # (splits, blocks): 1 where the block is in-sample

    def scores(member: np.ndarray) -> np.ndarray:
        n = (member @ counts)[:, None]
        mean = (member @ sums) / n
        if metric is SelectionMetric.MEAN:
            return mean
        var = np.maximum((member @ squares) - n * mean**2, 0.0) / (n - 1)
        std = np.sqrt(var)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(std > 0, mean / std, 0.0)

    in_sample, out_of_sample = scores(halves), scores(1.0 - halves)
    winner = in_sample.argmax(axis=1)
    splits = np.arange(len(halves))
    ranks = np.array([rankdata(row)[w] for row, w in zip(out_of_sample, winner)])
    relative = ranks / (n_trials + 1)
    logits = np.log(relative / (1.0 - relative))
    winner_oos = out_of_sample[splits, winner]
    return BacktestOverfitting(
        pbo=float((logits <= 0).mean()),
        logits=logits,
        winner_in_sample=in_sample[splits, winner],
        winner_out_of_sample=winner_oos,
        prob_oos_loss=float((winner_oos < 0).mean()),
        n_blocks=n_blocks,
        n_trials=n_trials,
    )


def _matrix(values: np.ndarray, what: str) -> np.ndarray:
    m = np.asarray(values, dtype=float)
    if m.ndim != 2 or len(m) < 2:
        raise DataError(f"{what} must be a (periods, trials) array with 2+ periods; got {m.shape}")
    if not np.isfinite(m).all():
        raise DataError(f"{what} contain NaN or infinite values: drop failed trials first")
    return m
