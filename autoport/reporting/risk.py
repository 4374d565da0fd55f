"""Figures of a :class:`~autoport.risk.report.RiskReport`: losses, stress, correlation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

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
                           path: Path | None = None, *, method: str | None = None) -> Figure:
    """One method's scenario histogram with its VaR and ES, the tail beyond VaR shaded.

    ``method``: a key of ``report.var_results`` (default: ``historical`` when computed, else the
    first); the other methods' figures are in the stress table and JSON. When the method has no
    scenarios (the parametric ones) the first method that has some is drawn beneath its lines.
    ``confidence`` labels the title (default: the method's level).

    Parameters
    ----------
    report
        The result of :func:`autoport.risk.report.risk_report`.
    confidence
        Level named in the title; None: the method's own.
    path
        PNG file to write (the figure is then closed); None: return it open.
    method
        A key of ``report.var_results``; None: ``historical`` when computed, else the first.
    """
    results = report.var_results
    name = method or ("historical" if "historical" in results else next(iter(results)))
    if name not in results:
        raise ValueError(f"no VaR method {name!r} in the report; it has {', '.join(results)}")
    chosen = results[name]
    if confidence is None:
        confidence = chosen.confidence_level
    source = name if chosen.scenarios is not None else next(
        (k for k, r in results.items() if r.scenarios is not None), None)
    fig, ax = plt.subplots(figsize=(9, 5))
    if source is not None:
        scenarios = np.asarray(results[source].scenarios)
        lo, hi = np.quantile(scenarios, [0.001, 0.999])  # far outliers would squash the rest
        lo = min(lo, chosen.var, chosen.expected_shortfall) * 1.15
        bins = np.linspace(lo, hi * 1.1, 100)
        ax.hist(np.clip(scenarios, lo, None), bins=bins, density=True, color="tab:blue",
                alpha=0.5, label=f"{source.replace('_', ' ')} scenarios")
        ax.axvspan(lo, chosen.var, color="tab:red", alpha=0.08, lw=0,
                   label=f"worst {1 - confidence:.0%} (the tail ES averages)")
        ax.set_xlim(lo, hi * 1.1)
        ax.set_ylabel("density")
    else:
        ax.set_yticks([])
    ax.axvline(chosen.var, color="tab:red", lw=1.6,
               label=f"VaR {chosen.var:.2%}")
    ax.axvline(chosen.expected_shortfall, color="darkred", ls="--", lw=1.6,
               label=f"ES {chosen.expected_shortfall:.2%}")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(f"portfolio return over {chosen.horizon} day(s)")
    ax.set_title(f"Loss distribution: {confidence:.0%} VaR and ES, {name.replace('_', ' ')} "
                 f"method ({len(results)} methods in the table)")
    ax.legend(fontsize=9, loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _done(fig, path)


def plot_stress_scenarios(report: RiskReport, path: Path | None = None) -> Figure:
    """P&L of each scenario that ran, worst first: losses red, deeper for worse, gains green,
    each bar labelled with its value.

    Parameters
    ----------
    report
        The result of :func:`autoport.risk.report.risk_report`.
    path
        PNG file to write (the figure is then closed); None: return it open.
    """
    done = sorted((r for r in report.stress if not r.skipped), key=lambda r: r.pnl)
    pnl = np.array([r.pnl for r in done], dtype=float)
    worst = max(float(np.abs(pnl).max()) if len(pnl) else 0.0, 1e-12)
    reds, greens = colormaps["Reds"], colormaps["Greens"]
    colours = [reds(0.35 + 0.6 * abs(v) / worst) if v < 0 else greens(0.35 + 0.6 * v / worst)
               for v in pnl]
    fig, ax = plt.subplots(figsize=(9, max(4, 0.3 * len(done) + 1)))
    ax.barh([r.scenario for r in done], pnl, color=colours)
    for i, v in enumerate(pnl):
        ax.annotate(f"{v:+.1%}", (v, i), xytext=(-3 if v < 0 else 3, 0),
                    textcoords="offset points", va="center", ha="right" if v < 0 else "left",
                    fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    left = min(0.0, float(pnl.min()) if len(pnl) else 0.0)
    right = max(0.0, float(pnl.max()) if len(pnl) else 0.0)
    span = max(right - left, 1e-6)
    ax.set_xlim(left - 0.15 * span, right + (0.15 if right > 0 else 0.02) * span)  # labels
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("portfolio P&L under the scenario (share of portfolio value)")
    ax.set_title("Stress scenarios, worst first")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _done(fig, path)


def plot_correlation(report: RiskReport, path: Path | None = None) -> Figure:
    """The estimation window's correlation matrix as a heat map.

    Parameters
    ----------
    report
        The result of :func:`autoport.risk.report.risk_report`.
    path
        PNG file to write (the figure is then closed); None: return it open.
    """
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
    """The three figures `autoport stress` writes, into ``folder`` (names in ``FILES``).

    Parameters
    ----------
    report
        The result of :func:`autoport.risk.report.risk_report`.
    folder
        Folder to write the PNGs into.
    confidence
        Level named in the loss distribution's title; None: the method's own.
    """
    paths = [Path(folder) / name for name in FILES]
    plot_loss_distribution(report, confidence, paths[0])
    plot_stress_scenarios(report, paths[1])
    plot_correlation(report, paths[2])
    return paths
