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

COLORS = {"bull": "tab:green", "sideways": "tab:olive", "bear": "tab:red"}


def plot_regimes(report: RegimeReport, path: Path | None = None) -> Figure:
    """The market index (log) shaded by online regime, bear markets of the reference dating as a
    top band; below, the filtered probabilities and the regime acted on after hysteresis.
    ``path``: also save (PNG) and close."""
    index, ref_name = report.index, report.reference_name
    probs, labels = report.detection.probabilities, report.detection.labels
    active, reference = report.acted, report.reference
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    shown = index.loc[labels.index[0] :]
    ax.plot(shown.index, shown.to_numpy(), color="black", lw=0.8, label=ref_name)
    ax.set_yscale("log")
    for r in runs(labels).itertuples():
        ax.axvspan(r.start, r.end, color=COLORS[r.label], alpha=0.25, lw=0)
    for r in runs(reference.loc[labels.index[0] :]).itertuples():
        if r.label == "bear":
            ax.axvspan(r.start, r.end, ymin=0.97, ymax=1.0, color="black", lw=0)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.4) for c in COLORS.values()]
    handles.append(plt.Rectangle((0, 0), 1, 1, color="black"))
    ax.legend(handles, [*COLORS, "bear market (20% rule, top band)"], loc="upper left",
              fontsize=8)
    ax.set_title("Online regimes (filtered, no look-ahead) over the index")
    ax2.stackplot(probs.index, *(probs[c].to_numpy() for c in COLORS),
                  colors=list(COLORS.values()), alpha=0.6)
    code = active.map({"bull": 1.0, "sideways": 0.5, "bear": 0.0})
    ax2.plot(code.index, code.to_numpy(), color="black", lw=0.8)
    ax2.set_ylabel("probability")
    ax2.set_title("Filtered probabilities; line: regime acted on (1 bull, .5 sideways, 0 bear)",
                  fontsize=9)
    ax2.set_ylim(0, 1)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
