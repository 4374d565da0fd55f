"""The regime timeline of a :class:`~autoport.regime.report.RegimeReport`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from autoport.regime.evaluation import runs  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from autoport.regime.report import RegimeReport

DPI = 110  # 11 x 7 inches: 1210 x 770 px
COLORS = {"bull": "tab:green", "sideways": "0.6", "bear": "tab:red"}  # as the backtest's timeline


def plot_regimes(report: RegimeReport, path: Path | None = None) -> Figure:
    """The market index (log) shaded by online regime, bear markets of the reference dating as a
    top band; below, the filtered probabilities, and a strip shaded by the regime acted on after
    hysteresis. ``path``: also save (PNG) and close.

    Parameters
    ----------
    report
        The result of :func:`autoport.regime.report.regime_report`.
    path
        PNG file to write (the figure is then closed); None: return it open.
    """
    from autoport.reporting.backtest import plain_log_axis

    index, ref_name = report.index, report.reference_name
    probs, labels = report.detection.probabilities, report.detection.labels
    active, reference = report.acted, report.reference
    fig, (ax, ax2, ax3) = plt.subplots(3, 1, figsize=(11, 7), sharex=True,
                                       gridspec_kw={"height_ratios": [3, 1, 0.35]})
    shown = index.loc[labels.index[0] :]
    ax.plot(shown.index, shown.to_numpy(), color="black", lw=0.8)
    plain_log_axis(ax)
    ax.set_ylabel(f"{ref_name} (log scale)")
    for start, end, label in _spans(labels):
        ax.axvspan(start, end, color=COLORS[label], alpha=0.25, lw=0)
    for r in runs(reference.loc[labels.index[0] :]).itertuples():
        if r.label == "bear":
            ax.axvspan(r.start, r.end, ymin=0.97, ymax=1.0, color="black", lw=0)
    # only the states the detector has (a 2-state detector has no sideways)
    states = [s for s in COLORS if any(s in fit.state_names for fit in report.detection.fits)]
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLORS[s], alpha=0.4) for s in states]
    handles.append(plt.Rectangle((0, 0), 1, 1, color="black"))
    ax.legend(handles, [*states, "bear market (20% rule, top band)"], loc="upper left",
              fontsize=8)
    ax.set_title(f"Online regimes (filtered, no look-ahead) over {ref_name}")
    ax2.stackplot(probs.index, *(probs[s].to_numpy() for s in states),
                  colors=[COLORS[s] for s in states], alpha=0.6)
    ax2.set_ylabel("filtered\nprobability", fontsize=9)
    ax2.set_ylim(0, 1)
    for start, end, label in _spans(active.dropna()):
        ax3.axvspan(start, end, color=COLORS.get(label, "white"), alpha=0.7, lw=0)
    ax3.set_yticks([])
    ax3.set_ylabel("acted on", fontsize=9, rotation=0, ha="right", va="center")
    ax3.set_title("regime acted on after hysteresis (same colours)", fontsize=8, loc="left")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
    return fig


def _spans(labels):
    """(start, end, label) of each run, a run ending where the next begins (no gaps)."""
    table = runs(labels)
    ends = [*table["start"].iloc[1:], table["end"].iloc[-1]] if len(table) else []
    return list(zip(table["start"], ends, table["label"], strict=True))
