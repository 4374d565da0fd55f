"""The tear sheet drawn without pyfolio's discarded layout passes (pandas' shared-axes label
hiding, seaborn's whole-figure draw, savefig's second layout for the tight box) is the tear
sheet pyfolio's own path draws, pixel for pixel."""

from __future__ import annotations

import contextlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from autoport import data, reporting  # noqa: E402
from autoport.reporting import backtest  # noqa: E402
from autoport.testing import save_pyfolio_tear_sheet  # noqa: E402


@pytest.mark.parametrize("freq", [None, "B"], ids=["sessions", "business-day-freq"])
def test_the_fast_tear_sheet_has_pyfolios_pixels(tmp_path, freq):
    # the bundled sessions (matplotlib's date axis) and a business-day index with a freq
    # (pandas' period axis, whose minor ticks carry labels)
    rets = data.bundled_prices().pct_change().dropna().iloc[-700:]
    if freq:
        rets.index = pd.bdate_range("2021-01-04", periods=len(rets))
    strategy, baseline = rets.iloc[:, :5].mean(axis=1), rets.mean(axis=1)
    bench = (baseline * 0.9).rename("S&P 500")
    reporting.save_tear_sheet(strategy, baseline * 0.9, tmp_path / "fast.png", name="mpt",
                              baseline=baseline)
    save_pyfolio_tear_sheet(strategy, bench, tmp_path / "own.png", baseline)
    with Image.open(tmp_path / "fast.png") as a, Image.open(tmp_path / "own.png") as b:
        fast, own = np.asarray(a), np.asarray(b)
    assert fast.shape == own.shape
    assert (fast != own).any(axis=-1).sum() == 0


def test_the_heatmap_turns_its_labels_as_after_a_whole_figure_draw():
    """seaborn turns overlapping tick labels; the tear sheet's labels overlap either way, so
    the verdict on labels that do not overlap is checked here, on a heatmap alone."""
    import seaborn as sns

    verdicts = {}
    for width, columns in ((14, 3), (2, 12)):  # labels apart, labels overlapping
        table = pd.DataFrame(np.arange(3.0 * columns).reshape(3, columns),
                             columns=[f"month {i}" for i in range(columns)])
        for patched in (False, True):
            fig, ax = plt.subplots(figsize=(width, 3))
            with backtest._without_discarded_layout() if patched else contextlib.nullcontext():
                sns.heatmap(table, annot=True, cbar=False, ax=ax)
            verdicts[width, patched] = [t.get_rotation() for t in ax.get_xticklabels()]
            plt.close(fig)
        assert verdicts[width, True] == verdicts[width, False]
    assert set(verdicts[14, False]) == {0.0} and set(verdicts[2, False]) == {90.0}
