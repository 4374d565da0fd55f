"""The sweep's picture: the validation metric against each searched setting."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def save_sweep_plot(board: pd.DataFrame, metric: str, path: Path, title: str) -> Path:
    """The validation metric against each searched setting, one panel a setting; the chosen
    trial in red. Failed trials are left out (they have no score).

    Parameters
    ----------
    board
        The leaderboard: one row per trial, a column per searched setting, the metric and
        ``status``, best first.
    metric
        The column scored on validation.
    path
        PNG file to write.
    title
        Figure title.
    """
    ok = board[board["status"] == "ok"]
    params = [c for c in board.columns if c.startswith("param.")]
    fig, axes = plt.subplots(1, len(params), figsize=(4.2 * len(params), 3.6), squeeze=False,
                             sharey=True)
    for ax, col in zip(axes[0], params):
        values = ok[col]
        numeric = pd.api.types.is_numeric_dtype(values)
        x = values if numeric else values.astype(str)
        ax.scatter(x, ok[metric], s=28, color="tab:blue", alpha=0.7, label="trial")
        if len(ok):
            best = ok.iloc[0]
            ax.scatter([best[col] if numeric else str(best[col])], [best[metric]], s=90,
                       color="tab:red", marker="*", label="chosen", zorder=3)
        ax.set_xlabel(col.removeprefix("param."))
        ax.grid(alpha=0.3)
        if not numeric:
            ax.tick_params(axis="x", labelrotation=30)
    axes[0][0].set_ylabel(f"validation {metric} (mean over seeds)")
    axes[0][0].legend(loc="best", fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
