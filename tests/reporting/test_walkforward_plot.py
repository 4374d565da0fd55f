"""The walk-forward figure renders, with one dot per fold on each side."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from autoport.reporting import save_fold_sharpes


def test_fold_sharpe_plot_has_a_dot_per_fold(tmp_path, monkeypatch):
    sharpes = pd.DataFrame({"mpt": np.linspace(0.2, 1.4, 15), "1/N": np.linspace(0.5, 1.1, 15)})
    seen = {}
    close = plt.close

    def keep(fig):  # look at the figure before it is closed
        seen["offsets"] = [len(c.get_offsets()) for c in fig.axes[0].collections]
        seen["labels"] = [t.get_text() for t in fig.axes[0].get_xticklabels()]
        close(fig)

    monkeypatch.setattr(plt, "close", keep)
    path = save_fold_sharpes(sharpes, tmp_path / "f.png", "mpt vs 1/N")
    assert path.stat().st_size > 10_000
    assert seen["offsets"] == [15, 15] and seen["labels"] == ["mpt", "1/N"]
