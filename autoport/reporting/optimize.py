"""The efficient frontier figure of an :class:`~autoport.optimize.report.OptimizeReport`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from autoport.optimize.report import OptimizeReport


def plot_frontier(report: OptimizeReport, path: Path | None = None) -> Figure:
    """Frontier, the assets, min-variance and tangency points, and the capital market line,
    with the chosen portfolio circled. Annualised axes. ``path``: also save (PNG) and close."""
    frontier, mu, cov, result = report.frontier, report.mu, report.cov, report.result
    if frontier is None:
        raise ValueError("the report has no frontier (frontier_points 0, or it could not be "
                         "drawn: see its notes)")
    fig, ax = plt.subplots(figsize=(8, 5.5))
    ax.plot(frontier.volatilities, frontier.returns, color="tab:blue", lw=2,
            label="efficient frontier")
    vols = np.sqrt(np.clip(np.diag(np.asarray(cov)), 0, None))
    ax.scatter(vols, np.asarray(mu), s=18, color="tab:gray", label="assets")
    for name, x, y in zip(mu.index, vols, np.asarray(mu), strict=True):
        ax.annotate(str(name), (x, y), fontsize=7, xytext=(3, 2), textcoords="offset points")
    mv = frontier.min_variance
    ax.scatter([mv.volatility], [mv.expected_return], marker="D", color="tab:green", s=50,
               label="min variance", zorder=3)
    rf = frontier.risk_free_rate
    if frontier.tangency is not None:
        tg = frontier.tangency
        ax.scatter([tg.volatility], [tg.expected_return], marker="*", color="tab:red", s=140,
                   label=f"tangency (Sharpe {tg.sharpe_ratio:.2f})", zorder=3)
        x_end = max(frontier.volatilities.max(), tg.volatility) * 1.1
        ax.plot([0, x_end], [rf, rf + tg.sharpe_ratio * x_end], ls="--", color="tab:red",
                lw=1, label="capital market line")
    ax.scatter([result.volatility], [result.expected_return], marker="o", facecolor="none",
               edgecolor="black", s=90, label=f"chosen: {result.objective}", zorder=4)
    ax.set_xlabel("volatility (annualised)")
    ax.set_ylabel("expected return (annualised)")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
