"""Fold layouts: the same splits as skfolio's CombinatorialPurgedCV and WalkForward, and purge,
embargo and the warm-up checked by hand on a 20-session index."""

from __future__ import annotations

import numpy as np
import pytest
from skfolio.model_selection import CombinatorialPurgedCV, WalkForward

from autoport.errors import ConfigError, DataError
from autoport.walkforward import (
    Scheme, WalkForwardSettings, combinatorial_folds, estimation_rows, plan,
    walk_forward_folds,
)


@pytest.mark.parametrize("n, groups, tested, purge, embargo", [
    (120, 6, 2, 0, 0), (123, 6, 2, 3, 4), (250, 10, 3, 5, 10), (97, 5, 4, 2, 0),
    (60, 3, 2, 1, 1),
])
def test_cpcv_folds_equal_skfolio(n, groups, tested, purge, embargo):
    ours = combinatorial_folds(n, n_groups=groups, n_test_groups=tested, purge=purge,
                               embargo=embargo)
    theirs = list(CombinatorialPurgedCV(n_folds=groups, n_test_folds=tested, purged_size=purge,
                                        embargo_size=embargo).split(np.zeros((n, 1))))
    assert len(ours) == len(theirs)
    for fold, (train, tests) in zip(ours, theirs):
        np.testing.assert_array_equal(fold.train, train)
        assert len(fold.test) == len(tests)
        for a, b in zip(fold.test, tests):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n, train, test, purge, expanding", [
    (100, 20, 10, 0, False), (103, 20, 10, 3, False), (103, 20, 10, 3, True),
    (500, 252, 21, 21, True), (50, 7, 1, 1, False),
])
def test_walk_forward_folds_equal_skfolio(n, train, test, purge, expanding):
    ours = walk_forward_folds(n, test_size=test, train_size=train, purge=purge,
                              expanding=expanding)
    theirs = list(WalkForward(test_size=test, train_size=train, purged_size=purge,
                              expand_train=expanding).split(np.zeros((n, 1))))
    assert len(ours) == len(theirs) > 0
    for fold, (tr, te) in zip(ours, theirs):
        np.testing.assert_array_equal(fold.train, tr)
        np.testing.assert_array_equal(fold.test[0], te)


def test_purge_and_embargo_by_hand():
    # 20 sessions, 4 groups of 5: g0 = 0-4, g1 = 5-9, g2 = 10-14, g3 = 15-19; purge 1, embargo 2
    folds = combinatorial_folds(20, n_groups=4, n_test_groups=2, purge=1, embargo=2)
    by_groups = {f.groups: f for f in folds}
    # test g1 and g3: row 4 purged before g1; 10 (purge) + 11, 12 (embargo) after it;
    # row 14 purged before g3; nothing after g3 (the end)
    f = by_groups[(1, 3)]
    assert f.train.tolist() == [0, 1, 2, 3, 13]
    assert [b.tolist() for b in f.blocks()] == [list(range(5, 10)), list(range(15, 20))]
    # adjacent test groups form one block: purged before 5, purged+embargoed 15-17 after 14
    f = by_groups[(1, 2)]
    assert f.train.tolist() == [0, 1, 2, 3, 18, 19]
    assert [b.tolist() for b in f.blocks()] == [list(range(5, 15))]
    # estimation for g3's block with a 3-row warm-up: the warm-up, then the training rows
    # before the block (+3); row 13 + 3 = 16 is there, rows after the block never
    f = by_groups[(1, 3)]
    assert estimation_rows(f, f.blocks()[1], warmup=3, purge=1).tolist() == [0, 1, 2, 3, 4, 5,
                                                                               6, 16]
    assert estimation_rows(f, f.blocks()[0], warmup=3, purge=1).tolist() == [0, 1, 2, 3, 4, 5, 6]
    # the first group's block: the warm-up's last `purge` rows are purged too
    f = by_groups[(0, 2)]
    assert estimation_rows(f, f.blocks()[0], warmup=3, purge=1).tolist() == [0, 1]


def test_plan_places_cpcv_after_a_warm_up_and_walk_forward_from_the_start():
    cpcv = plan(1000, WalkForwardSettings(groups=5, test_groups=2, purge=10, embargo=5), 253)
    assert cpcv.warmup == 263 and len(cpcv.folds) == 10
    assert cpcv.folds[0].test[0][0] == 0  # split rows: offset by the warm-up in the panel
    rolling = plan(1000, WalkForwardSettings(scheme=Scheme.ROLLING, test=100, purge=5), 253)
    assert rolling.warmup == 0 and rolling.settings.train == 253
    assert rolling.folds[0].train.tolist() == list(range(253))
    assert rolling.folds[0].test[0][0] == 258


def test_bad_layouts_get_one_clear_message():
    with pytest.raises(ConfigError, match="embargo"):
        combinatorial_folds(100, n_groups=5, n_test_groups=2, purge=10, embargo=9)
    with pytest.raises(ConfigError, match="embargo"):
        plan(1000, WalkForwardSettings(scheme=Scheme.ROLLING, test=21, embargo=21), 10)
    with pytest.raises(DataError, match="too few"):
        walk_forward_folds(100, test_size=50, train_size=60)
    with pytest.raises(DataError, match="too few"):
        plan(270, WalkForwardSettings(), 253)
    with pytest.raises(ConfigError, match="test-groups"):
        plan(3000, WalkForwardSettings(groups=4, test_groups=4), 253)
