"""``autoport.regime.appendable.append`` equals ``np.concatenate`` and never changes a view it
handed out: two copies appending from the same rows (the autopilot advances copies of its
filter and stream) each keep their own rows; a cut-back view appends into a fresh buffer."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from autoport.regime.appendable import append


@pytest.mark.parametrize("order", ["C", "F"])
def test_equals_concatenate_and_views_keep_their_rows(order):
    rng = np.random.default_rng(0)
    chunks = [rng.standard_normal((int(rng.integers(1, 40)), 3)) for _ in range(30)]
    a, views = None, []
    for c in chunks:
        a = append(a, c, order=order)
        views.append(a)
    assert a.base is views[-2].base  # appended in place, not copied
    for i, v in enumerate(views):
        np.testing.assert_array_equal(v, np.concatenate(chunks[:i + 1]))
        assert not v.flags.writeable


def test_two_appenders_from_one_prefix_keep_their_own_rows():
    base = append(None, np.arange(12.0).reshape(4, 3))
    left = append(base, np.full((2, 3), 1.0))
    right = append(base, np.full((3, 3), 2.0))  # the room after base is taken: a fresh buffer
    assert right.base is not left.base
    np.testing.assert_array_equal(left[4:], 1.0)
    np.testing.assert_array_equal(right[4:], 2.0)
    np.testing.assert_array_equal(base, np.arange(12.0).reshape(4, 3))
    # a view cut back below what was written appends into a fresh buffer too
    cut = append(left[:3], np.full((1, 3), 3.0))
    np.testing.assert_array_equal(left[3], [9.0, 10.0, 11.0])
    np.testing.assert_array_equal(cut[3], 3.0)


def test_filter_copies_advance_apart():
    """The online filter's copy (as the autopilot takes it) and the original, each fed
    different new rows, give the probabilities of a fresh filter fed the same rows."""
    import pandas as pd

    from autoport.regime.models import JumpDetector
    from autoport.regime.online import OnlineRegimeFilter

    rng = np.random.default_rng(1)
    rows = pd.DataFrame(rng.standard_normal((400, 2)), columns=["ret", "x"],
                        index=pd.bdate_range("2000-01-03", periods=400))
    other = rows.copy()
    other.iloc[300:] = rng.standard_normal((100, 2)) * 3

    def make():
        return OnlineRegimeFilter(min_train=200, refit_every=50,
                                  detector=JumpDetector(jump_penalty=5.0, n_init=2))

    f = make()
    f.sync(rows.iloc[:300])
    g = copy.deepcopy(f)
    a = f.sync(rows).to_numpy().copy()
    b = g.sync(other).to_numpy().copy()
    np.testing.assert_array_equal(a, make().sync(rows).to_numpy())
    np.testing.assert_array_equal(b, make().sync(other).to_numpy())
    # what the copy appended did not land in the original's rows or probabilities
    np.testing.assert_array_equal(f.probabilities.to_numpy(), a)
    np.testing.assert_array_equal(f.sync(rows).to_numpy(), a)
