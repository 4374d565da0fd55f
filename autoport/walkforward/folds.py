"""Fold layouts for out-of-sample evaluation, as pure functions of a session count.

Two families (López de Prado 2018, *Advances in Financial Machine Learning*, ch. 7 and 12):

- **walk-forward**: consecutive test windows of ``test_size`` sessions, each after a training
  window that is either rolling (the last ``train_size`` sessions) or expanding (every session
  from the first), with ``purge`` sessions dropped between training and test. Same layout as
  skfolio's ``WalkForward(test_size, train_size, expand_train, purged_size)``.
- **combinatorial purged cross-validation** (CPCV): the sessions are cut into ``n_groups``
  consecutive groups (the last takes the remainder); each fold tests one combination of
  ``n_test_groups`` groups and trains on the rest, minus ``purge`` sessions on each side of
  every test block and a further ``embargo`` sessions after it. Same layout as skfolio's
  ``CombinatorialPurgedCV(n_folds, n_test_folds, purged_size, embargo_size)``.

Positions are 0-based rows of the split index; nothing here knows dates or prices.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import Enum

import numpy as np

from autoport.errors import ConfigError, DataError


class Scheme(str, Enum):
    CPCV = "cpcv"
    ROLLING = "rolling"
    EXPANDING = "expanding"


@dataclass(frozen=True)
class Fold:
    """One split: the rows estimation may use and the test rows, one array per test group."""

    index: int
    train: np.ndarray
    test: tuple[np.ndarray, ...]
    groups: tuple[int, ...] = ()  # CPCV: which groups are tested

    def blocks(self) -> list[np.ndarray]:
        """The test rows as contiguous blocks (adjacent test groups join into one)."""
        rows = np.concatenate(self.test)
        cuts = np.flatnonzero(np.diff(rows) != 1) + 1
        return np.split(rows, cuts)


def walk_forward_folds(
    n: int, *, test_size: int, train_size: int, purge: int = 0, expanding: bool = False,
) -> list[Fold]:
    """Consecutive full test windows after a rolling or expanding training window."""
    if test_size < 1 or train_size < 1 or purge < 0:
        raise ConfigError("walk-forward needs test and train sizes of at least 1 session and "
                          "a purge of 0 or more")
    if train_size + purge + test_size > n:
        raise DataError(
            f"{n} sessions are too few for one walk-forward fold: train {train_size} + purge "
            f"{purge} + test {test_size} = {train_size + purge + test_size}; pass a longer "
            "period or smaller --train/--test/--purge")
    folds = []
    start = train_size + purge
    while start + test_size <= n:
        train_end = start - purge
        train = np.arange(0 if expanding else train_end - train_size, train_end)
        folds.append(Fold(len(folds), train, (np.arange(start, start + test_size),)))
        start += test_size
    return folds


def group_of(n: int, n_groups: int) -> np.ndarray:
    """The group of every row: ``n // n_groups`` rows a group, the remainder in the last."""
    size = n // n_groups
    return np.minimum(np.arange(n) // size, n_groups - 1)


def combinatorial_folds(
    n: int, *, n_groups: int, n_test_groups: int, purge: int = 0, embargo: int = 0,
) -> list[Fold]:
    """Every combination of ``n_test_groups`` test groups among ``n_groups``, in
    ``itertools.combinations`` order; training rows are purged before and after each test
    block and embargoed after it."""
    if n_groups < 3 or not 1 <= n_test_groups < n_groups:
        raise ConfigError(f"CPCV needs at least 3 groups and 1 to groups-1 test groups; got "
                          f"{n_groups} groups and {n_test_groups} test groups")
    if purge < 0 or embargo < 0:
        raise ConfigError("purge and embargo must be 0 or more sessions")
    size = n // n_groups
    if size < 2:
        raise DataError(f"{n} sessions are too few for {n_groups} groups; pass a longer period "
                        "or fewer --groups")
    if purge + embargo >= size - 1:
        raise ConfigError(
            f"purge ({purge}) + embargo ({embargo}) sessions must be smaller than a group of "
            f"{size} sessions minus one, or whole groups vanish from training; lower "
            "--purge/--embargo, use fewer --groups or pass a longer period")
    group = group_of(n, n_groups)
    folds = []
    for k, tested in enumerate(itertools.combinations(range(n_groups), n_test_groups)):
        is_test = np.isin(group, tested)
        dropped = is_test.copy()
        edges = np.diff(is_test.astype(int))
        for first in np.flatnonzero(edges == 1) + 1:  # a test block starts at `first`
            dropped[max(0, first - purge):first] = True
        for last in np.flatnonzero(edges == -1):  # ... and ends at `last`
            dropped[last + 1:last + 1 + purge + embargo] = True
        test = tuple(np.flatnonzero(group == g) for g in tested)
        folds.append(Fold(k, np.flatnonzero(~dropped), test, tuple(tested)))
    return folds


def estimation_rows(fold: Fold, block: np.ndarray, warmup: int = 0,
                    purge: int = 0) -> np.ndarray:
    """Rows a strategy may see before ``block`` starts, in the full panel's positions: the
    ``warmup`` rows kept ahead of the split (their last ``purge`` dropped when the block is the
    split's first), then the fold's training rows that precede the block (offset by
    ``warmup``). Training rows after the block are the future: never."""
    kept = warmup - purge if block[0] == 0 else warmup
    before = fold.train[fold.train < block[0]] + warmup
    return np.concatenate([np.arange(max(kept, 0)), before]).astype(int)
