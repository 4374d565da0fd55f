"""The efficient frontier figure of an :class:`~autoport.optimize.report.OptimizeReport`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from autoport.optimize.report import OptimizeReport


from autoport.reporting.backtest import percent_axis  # noqa: E402

DPI = 120  # 8 x 5.5 inches: 960 x 660 px


def plot_frontier(report: OptimizeReport, path: Path | None = None) -> Figure:
    """Frontier, the assets, min-variance and tangency points, and the capital market line,
    with the chosen portfolio circled. Annualised axes. ``path``: also save (PNG) and close.

    Parameters
    ----------
    report
        The result of :func:`autoport.optimize.report.optimize_report`.
    path
        PNG file to write (the figure is then closed); None: return it open.
    """
    frontier, mu, cov, result = report.frontier, report.mu, report.cov, report.result
    if frontier is None:
        raise ValueError("the report has no frontier (frontier_points 0, or it could not be "
                         "drawn: see its notes)")
    fig, ax = plt.subplots(figsize=(8, 5.5))
    ax.plot(frontier.volatilities, frontier.returns, color="tab:blue", lw=2,
            label="efficient frontier")
    vols = pd.Series(np.sqrt(np.clip(np.diag(np.asarray(cov)), 0, None)), index=mu.index)
    excluded = [t for t in report.config.constraints.exclude if t in mu.index]
    held = [t for t in mu.index if t not in excluded]  # an excluded asset must not set the axes
    ax.scatter(vols[held], mu[held], s=18, color="tab:gray", label="assets")
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
    xs = [*vols[held], *frontier.volatilities, result.volatility]
    ys = [*mu[held], *frontier.returns, result.expected_return, rf]
    x_pad, y_pad = 0.06 * max(xs), 0.06 * (max(ys) - min(ys))
    ax.set_xlim(0, max(xs) + x_pad)
    ax.set_ylim(min(ys) - y_pad, max(ys) + y_pad)
    percent_axis(ax.xaxis)
    percent_axis(ax.yaxis)
    _label_points(ax, [(str(t), vols[t], mu[t]) for t in held])
    if excluded:
        ax.annotate(f"excluded (not drawn): {', '.join(map(str, excluded))}", (0.99, 0.01),
                    xycoords="axes fraction", ha="right", va="bottom", fontsize=8,
                    color="0.35")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right" if not excluded else "upper left")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
    return fig


def _label_points(ax, points: list[tuple[str, float, float]], size: float = 7.5) -> None:
    """Name each point beside it, nudging a label down past labels already placed nearby
    (a greedy pass in screen space: enough for a few dozen assets)."""
    ax.figure.canvas.draw()  # fixes the axes limits, so data map to pixels
    to_px = ax.transData.transform
    step = size * ax.figure.dpi / 72 * 1.15
    placed: list[tuple[float, float]] = []
    for name, x, y in sorted(points, key=lambda p: -p[2]):
        px, py = to_px((x, y))
        dy = 0.0
        width = 0.6 * size * len(name) * ax.figure.dpi / 72
        while any(abs(px - qx) < width and abs(py + dy - qy) < step for qx, qy in placed):
            dy -= step
        placed.append((px, py + dy))
        ax.annotate(name, (x, y), xytext=(4, 2 + dy * 72 / ax.figure.dpi),
                    textcoords="offset points", fontsize=size,
                    arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.5"} if dy else None)
