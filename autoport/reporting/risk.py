"""Figures of a :class:`~autoport.risk.report.RiskReport`: losses, stress, correlation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from autoport.risk.report import RiskReport

FILES = ("loss_distribution.png", "stress_scenarios.png", "correlation_heatmap.png")


def _done(fig: Figure, path: Path | None) -> Figure:
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def plot_loss_distribution(report: RiskReport, confidence: float | None = None,
                           path: Path | None = None) -> Figure:
    """Scenario histograms of the methods that have scenarios, each method's VaR (solid) and
    ES (dashed). ``confidence`` labels the title (default: the first method's level)."""
    if confidence is None:
        confidence = next(iter(report.var_results.values())).confidence_level
    fig, ax = plt.subplots(figsize=(8, 4.5))
    shown = False
    for name in ("historical", "monte_carlo", "monte_carlo_copula"):
        r = report.var_results.get(name)
        if r is None or r.scenarios is None:
            continue
        ax.hist(r.scenarios, bins=120, density=True, alpha=0.4, label=f"{name} scenarios")
        shown = True
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, r) in enumerate(report.var_results.items()):
        c = colors[i % len(colors)]
        ax.axvline(r.var, color=c, ls="-", lw=1, label=f"VaR {name} {r.var:.2%}")
        ax.axvline(r.expected_shortfall, color=c, ls="--", lw=1)
    ax.set_xlabel(f"portfolio return over {next(iter(report.var_results.values())).horizon} day(s)")
    if shown:  # the central 99.8% and every VaR/ES line; far outliers would squash the rest
        lines = [v for r in report.var_results.values() for v in (r.var, r.expected_shortfall)]
        pool = np.concatenate(
            [r.scenarios for r in report.var_results.values() if r.scenarios is not None]
        )
        lo, hi = np.quantile(pool, [0.001, 0.999])
        ax.set_xlim(min(lo, *lines) * 1.1, hi * 1.1)
    ax.set_title(f"Loss distribution, {confidence:.0%} VaR (solid) and ES (dashed)")
    ax.legend(fontsize=6, loc="upper left")
    if not shown:
        ax.set_yticks([])
    fig.tight_layout()
    return _done(fig, path)


def plot_stress_scenarios(report: RiskReport, path: Path | None = None) -> Figure:
    """P&L of each scenario that ran, worst first; red where it goes beyond VaR."""
    done = [r for r in report.stress if not r.skipped]
    fig, ax = plt.subplots(figsize=(8, max(4, 0.28 * len(done))))
    ax.barh(
        [r.scenario for r in done],
        [r.pnl for r in done],
        color=["tab:red" if r.var_breach else "tab:gray" for r in done],
    )
    ax.invert_yaxis()
    ax.set_xlabel("portfolio P&L (return); red = beyond VaR")
    ax.set_title("Stress scenarios")
    fig.tight_layout()
    return _done(fig, path)


def plot_correlation(report: RiskReport, path: Path | None = None) -> Figure:
    """The estimation window's correlation matrix as a heat map."""
    corr = report.correlation
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(corr.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(np.arange(len(corr)), corr.columns, rotation=90, fontsize=7)
    ax.set_yticks(np.arange(len(corr)), corr.index, fontsize=7)
    fig.colorbar(im, ax=ax)
    ax.set_title(f"Correlation (estimation window); average pairwise {report.avg_correlation:.2f}")
    fig.tight_layout()
    return _done(fig, path)


def save_risk_plots(report: RiskReport, folder: Path, confidence: float | None = None
                    ) -> list[Path]:
    """The three figures `autoport stress` writes, into ``folder`` (names in ``FILES``)."""
    paths = [Path(folder) / name for name in FILES]
    plot_loss_distribution(report, confidence, paths[0])
    plot_stress_scenarios(report, paths[1])
    plot_correlation(report, paths[2])
    return paths
