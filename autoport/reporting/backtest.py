"""Backtest figures: the pyfolio tear sheet, growth and drawdown beside 1/N, weights, regimes.

This is an edge module: it writes image files into the folder it is given.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def save_tear_sheet(returns: pd.Series, benchmark: pd.Series | None, path: Path) -> Path:
    """pyfolio-reloaded's returns tear sheet as a PNG (its tables go to a silenced stdout)."""
    import pyfolio as pf

    bench = benchmark.reindex(returns.index).fillna(0.0) if benchmark is not None else None
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        fig = pf.create_returns_tear_sheet(returns, benchmark_rets=bench, return_fig=True)
    fig.savefig(path, dpi=60, bbox_inches="tight")
    plt.close(fig)
    return path


def save_comparison(curves: dict[str, pd.Series], path: Path, title: str,
                    in_sample_end: pd.Timestamp | None = None) -> Path:
    """Growth of $1 and drawdown for the strategy beside 1/N and the index; the sessions a
    trained model or a selection already saw (up to ``in_sample_end``) are shaded."""
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    if in_sample_end is not None:
        first = min(r.index[0] for r in curves.values())
        for ax in (top, bottom):
            ax.axvspan(first, in_sample_end, color="0.85", zorder=0,
                       label="in sample (model's training/selection data)" if ax is top else None)
    for name, returns in curves.items():
        wealth = (1.0 + returns.fillna(0.0)).cumprod()
        top.plot(wealth.index, wealth.to_numpy(), label=name, lw=1.2)
        bottom.plot(wealth.index, (wealth / wealth.cummax() - 1.0).to_numpy(), lw=0.9)
    top.set_yscale("log")
    top.set_ylabel("growth of $1 (log)")
    top.set_title(title)
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bottom.set_ylabel("drawdown")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def save_weights(weights: pd.DataFrame, path: Path, title: str) -> Path:
    """Stacked area of target weights at each rebalance."""
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.stackplot(weights.index, weights.fillna(0).T.to_numpy(), labels=weights.columns, lw=0)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, ncol=1)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


REGIME_COLOURS = {"bull": "#2ca02c", "sideways": "#bbbbbb", "bear": "#d62728"}


def save_regime_timeline(
    wealth: pd.Series, regimes: pd.Series, exposure: pd.Series, path: Path, title: str
) -> Path:
    """Growth of $1 with the regime acted on shaded behind it, and the invested share below."""
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.plot(wealth.index, wealth.to_numpy(), color="black", lw=1.0)
    top.set_yscale("log")
    daily = regimes.reindex(wealth.index, method="ffill")
    change = daily.ne(daily.shift()).cumsum()
    for _, block in daily.groupby(change):
        label = block.iloc[0]
        if isinstance(label, str):
            top.axvspan(block.index[0], block.index[-1], color=REGIME_COLOURS.get(label, "white"),
                        alpha=0.25, lw=0)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.35) for c in REGIME_COLOURS.values()]
    top.legend(handles, list(REGIME_COLOURS), loc="upper left")
    top.set_ylabel("strategy growth of $1 (log)")
    top.set_title(title)
    bottom.fill_between(exposure.index, exposure.to_numpy(), step="post", alpha=0.6)
    bottom.set_ylim(0, 1.05)
    bottom.set_ylabel("invested share")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

