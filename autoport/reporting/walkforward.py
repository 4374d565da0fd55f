"""The walk-forward picture: each fold's out-of-sample Sharpe ratio, strategy beside 1/N."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def save_fold_sharpes(sharpes: pd.DataFrame, path: Path, title: str) -> Path:
    """Box plot of the fold Sharpe ratios per column (strategy, 1/N), every fold as a dot,
    and a grey line joining each fold's pair (the same test sessions for both).

    Parameters
    ----------
    sharpes
        Annualised Sharpe ratio per fold (rows) for the strategy and 1/N (columns).
    path
        PNG file to write.
    title
        Figure title.
    """
    columns = list(sharpes.columns)
    fig, ax = plt.subplots(figsize=(1.9 * len(columns) + 3.2, 4.4))
    values = [sharpes[c].dropna().to_numpy() for c in columns]
    ax.boxplot(values, positions=range(len(columns)), widths=0.45, showfliers=False,
               medianprops={"color": "black", "linewidth": 2})
    rng = np.random.default_rng(0)  # jitter only; the figures are the folds'
    jitter = rng.uniform(-0.09, 0.09, len(sharpes))
    for k, column in enumerate(columns):
        ax.scatter(k + jitter, sharpes[column], s=22, alpha=0.8, zorder=3,
                   color=("tab:blue" if k == 0 else "tab:orange"), label=column)
    if len(columns) == 2:
        for j, (a, b) in enumerate(sharpes[columns].to_numpy()):
            ax.plot([0 + jitter[j], 1 + jitter[j]], [a, b], color="grey", alpha=0.25, lw=0.8)
    ax.axhline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_xticks(range(len(columns)), columns)
    ax.set_ylabel("out-of-sample Sharpe ratio of a fold (annualised)")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
