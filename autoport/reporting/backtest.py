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
import numpy as np  # noqa: E402
from matplotlib.ticker import (  # noqa: E402
    AutoLocator, FormatStrFormatter, FuncFormatter, Locator, MaxNLocator, NullFormatter,
    NullLocator,
)

DPI = 100  # the figures below are 11-12 inches wide: 1100-1200 px


TEAR_SHEET_DPI = 100  # pyfolio draws 14 inches wide: 1400 px, heatmap digits legible


def save_tear_sheet(returns: pd.Series, benchmark: pd.Series | None, path: Path, *,
                    name: str = "strategy", baseline: pd.Series | None = None,
                    benchmark_name: str = "S&P 500", baseline_name: str = "1/N") -> Path:
    """pyfolio-reloaded's returns tear sheet as a PNG (its tables go to a silenced stdout).

    pyfolio calls the strategy "Backtest" and knows one benchmark: the lines are renamed to
    ``name`` and ``benchmark_name``, and ``baseline`` (1/N) is drawn beside them on the
    cumulative-return panels, so the sheet compares the same three series as comparison.png.

    Parameters
    ----------
    returns
        Daily simple returns of the strategy, shape (T,).
    benchmark
        Daily simple returns of the index on the same sessions; None: none.
    path
        PNG file to write.
    name
        The strategy's label.
    baseline
        Daily simple returns of 1/N on the same sessions; None: not drawn.
    benchmark_name, baseline_name
        Labels of the index and the baseline.
    """
    import pyfolio as pf

    bench = None
    if benchmark is not None:
        bench = benchmark.reindex(returns.index).fillna(0.0).rename(benchmark_name)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            _vectorised_rolling_beta(), _without_discarded_layout():
        warnings.simplefilter("ignore")
        fig = pf.create_returns_tear_sheet(returns, benchmark_rets=bench, return_fig=True)
    _tidy_tear_sheet(fig, returns, name, baseline, baseline_name)
    # bbox_inches="tight" lays the whole figure out once more before drawing it; the tight box
    # computed here, with the same 0.1 in pad (savefig.pad_inches), is the same box
    fig.set_dpi(TEAR_SHEET_DPI)
    box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
    fig.savefig(path, dpi=TEAR_SHEET_DPI, bbox_inches=box)
    plt.close(fig)
    return path


def rolling_beta(returns: pd.Series, factor_returns: pd.Series, rolling_window: int
                 ) -> pd.Series:
    """pyfolio's ``timeseries.rolling_beta`` for gap-free series on one index, in one pass.

    pyfolio calls ``empyrical.beta`` once per session (about 80% of a long tear sheet's time);
    the same sums over the same windows (``rolling_window + 1`` sessions ending at each session
    from ``rolling_window`` on, demeaned factor, variance under 1e-30 undefined) in numpy.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    out = pd.Series(index=returns.index, dtype="float64")
    if len(returns) <= rolling_window:
        return out
    r = sliding_window_view(returns.to_numpy(dtype=float), rolling_window + 1, axis=0)
    f = sliding_window_view(factor_returns.to_numpy(dtype=float), rolling_window + 1, axis=0)
    resid = f - f.mean(axis=1, keepdims=True)
    cov = (resid * r).mean(axis=1)
    var = (resid * resid).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out.iloc[rolling_window:] = np.where(var < 1e-30, np.nan, cov / var)
    return out


@contextlib.contextmanager
def _vectorised_rolling_beta():
    """pyfolio's tear sheet with :func:`rolling_beta` where it applies (else pyfolio's own)."""
    from pyfolio import timeseries

    original = timeseries.rolling_beta

    def patched(returns, factor_returns, rolling_window=126):
        if (isinstance(factor_returns, pd.Series) and returns.index.equals(factor_returns.index)
                and not returns.isna().any() and not factor_returns.isna().any()):
            return rolling_beta(returns, factor_returns, rolling_window)
        return original(returns, factor_returns, rolling_window=rolling_window)

    timeseries.rolling_beta = patched
    try:
        yield
    finally:
        timeseries.rolling_beta = original


@contextlib.contextmanager
def _without_discarded_layout():
    """pyfolio's tear sheet without layout work whose result nobody sees (the same pixels in
    about half the time).

    - After each of its plots pandas hides the tick labels of every panel sharing the x axis,
      creating and formatting every minor tick of every panel to hide its label (quadratic in
      the panels); hiding minor labels by the axis' tick parameters hides the same labels.
    - seaborn's heatmap draws the whole figure, rasterised, to learn whether its own tick labels
      overlap; laying out the heatmap's axes alone places the same labels.

    A patch is skipped if the library no longer has the function it replaces.
    """
    from pandas.plotting._matplotlib import tools as pandas_tools
    from seaborn import matrix as seaborn_matrix

    patches = [(module, attr, replacement) for module, attr, replacement in (
        (pandas_tools, "_remove_labels_from_axis", _hide_labels),
        (seaborn_matrix, "_draw_figure", _lay_out_heatmap_axes),
    ) if hasattr(module, attr)]
    originals = [(module, attr, getattr(module, attr)) for module, attr, _ in patches]
    for module, attr, replacement in patches:
        setattr(module, attr, replacement)
    try:
        yield
    finally:
        for module, attr, original in originals:
            setattr(module, attr, original)


def _hide_labels(axis) -> None:
    """pandas' ``_remove_labels_from_axis``, the minor labels hidden without creating ticks."""
    for label in axis.get_majorticklabels():
        label.set_visible(False)
    if isinstance(axis.get_minor_locator(), NullLocator):
        axis.set_minor_locator(AutoLocator())
    if isinstance(axis.get_minor_formatter(), NullFormatter):
        axis.set_minor_formatter(FormatStrFormatter(""))
    axis.set_tick_params(which="minor", label1On=False, label2On=False)
    axis.get_label().set_visible(False)


def _lay_out_heatmap_axes(fig) -> None:
    """Place the tick labels of the figure's heatmap axes (those holding a QuadMesh), which is
    all seaborn's overlap test reads, without drawing the figure."""
    from matplotlib.collections import QuadMesh

    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        if any(isinstance(c, QuadMesh) for c in ax.collections):
            ax.get_tightbbox(renderer)


def _tidy_tear_sheet(fig, returns: pd.Series, name: str, baseline: pd.Series | None,
                     baseline_name: str) -> None:
    """Rename pyfolio's "Backtest" and "Portfolio" to the strategy, add 1/N, and keep long
    histories legible: the row of per-year panels grows with the years so each year keeps a
    readable line."""
    years = returns.index.year.nunique()
    title_size = fig.axes[0].title.get_fontsize()
    for ax in fig.axes:
        title = ax.get_title()
        renamed = False
        for line in ax.get_lines():
            if line.get_label() in ("Backtest", "Portfolio"):
                line.set_label(name)
                renamed = True
        if title.startswith("Cumulative returns") and "volatility matched" not in title \
                and baseline is not None:
            wealth = (1.0 + baseline.reindex(returns.index).fillna(0.0)).cumprod()
            with warnings.catch_warnings():  # pyfolio drew with pandas' date converter;
                warnings.simplefilter("ignore")  # matplotlib's places the same dates
                ax.plot(wealth.index, wealth.to_numpy(), lw=1.5, color="tab:blue", alpha=0.7,
                        label=baseline_name)
            renamed = True
        if title == "Monthly returns (%)":
            for text in ax.texts:
                text.set_fontsize(7)  # pyfolio's 9 pt runs neighbouring cells together
            labels = [str(y) for y in sorted(returns.index.year.unique())]
            if len(labels) == len(ax.get_yticks()) or years > 12:  # seaborn shows every 3rd
                ax.set_yticks([i + 0.5 for i in range(len(labels))], labels, rotation=0)
        if title in ("Monthly returns (%)", "Annual returns"):
            ax.tick_params(axis="y", labelsize=9)
        if title == "Annual returns":
            ax.xaxis.set_major_locator(MaxNLocator(4))
        if title == "Distribution of monthly returns":
            ax.set_title("Return per month", fontsize=title_size)
            ax.xaxis.set_major_locator(MaxNLocator(4))
        if ax.get_yscale() == "log":
            plain_log_axis(ax)
        if renamed and ax.get_legend() is not None:
            handles, labels = ax.get_legend_handles_labels()
            ax.legend(handles, labels, loc="upper left", frameon=True, framealpha=0.6, fontsize=11)
        elif ax.get_legend() is not None:  # pyfolio names the drawdown panel's line by text only
            for text in ax.get_legend().get_texts():
                if text.get_text() in ("Backtest", "Portfolio"):
                    text.set_text(name)
    yearly = [ax for ax in fig.axes if ax.get_title() == "Monthly returns (%)"]
    if yearly:
        _grow_row(fig, yearly[0], 0.3 * years + 0.6)


def _grow_row(fig, anchor, height_in: float) -> None:
    """Make the row of axes level with ``anchor`` ``height_in`` inches tall, moving the rows
    above it up and lengthening the figure by as much."""
    width, height = fig.get_size_inches()
    box = anchor.get_position()
    extra = height_in - box.height * height
    if extra <= 0:
        return
    new_height = height + extra
    row_bottom, row_top = box.y0 * height, box.y1 * height
    fig.set_size_inches(width, new_height)
    for ax in fig.axes:
        b = ax.get_position()
        y0, h = b.y0 * height, b.height * height
        if abs(y0 - row_bottom) < 1e-6 and abs(y0 + h - row_top) < 1e-6:
            h = height_in  # the row itself
        elif y0 >= row_top - 1e-6:
            y0 += extra  # above the row
        ax.set_position([b.x0, y0 / new_height, b.width, h / new_height])


def percent_axis(axis) -> None:
    """Ticks at round percentages (steps of 1, 2 or 5 x 10^k), written with just the decimals
    the step needs: 0%, -10%, -20% or 0.5%, 1.0%, 1.5%."""
    axis.set_major_locator(MaxNLocator(6, steps=[1, 2, 2.5, 5, 10]))

    def fmt(value, _pos):
        ticks = axis.get_majorticklocs()
        step = float(np.min(np.diff(ticks))) if len(ticks) > 1 else 1.0
        decimals = max(0, int(-np.floor(np.log10(step * 100 + 1e-12))))
        return f"{value * 100:.{decimals}f}%"

    axis.set_major_formatter(FuncFormatter(fmt))


class _PlainLogLocator(Locator):
    """Ticks at 1, 1.5, 2, 3, 5, 7 x 10^k inside the view; evenly spaced ones when the view
    spans too little of a decade for three of those."""

    def __call__(self):
        return self.tick_values(*self.axis.get_view_interval())

    def tick_values(self, vmin, vmax):
        vmin, vmax = sorted((max(vmin, 1e-12), max(vmax, 1e-12)))
        for mantissas in ((1, 1.5, 2, 3, 5, 7), (1, 2, 5), (1,)):
            ticks = [m * 10.0**k for k in range(int(np.floor(np.log10(vmin))),
                                                 int(np.ceil(np.log10(vmax))) + 1)
                     for m in mantissas if vmin <= m * 10.0**k <= vmax]
            if len(ticks) <= 9:
                break
        if len(ticks) < 3:
            ticks = [t for t in MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]).tick_values(vmin, vmax)
                     if vmin <= t <= vmax]
        return np.asarray(ticks)


def plain_log_axis(ax) -> None:
    """Log scale with ticks written 1.5, 2, 3 rather than 2x10^0."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(_PlainLogLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.4g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def save_comparison(curves: dict[str, pd.Series], path: Path, title: str,
                    in_sample_end: pd.Timestamp | None = None) -> Path:
    """Growth of $1 and drawdown for the strategy beside 1/N and the index; the sessions a
    trained model or a selection already saw (up to ``in_sample_end``) are shaded.

    Parameters
    ----------
    curves
        Daily simple returns per label (strategy, 1/N, index), each shape (T,).
    path
        PNG file to write.
    title
        Figure title.
    in_sample_end
        Last date a trained model or selection saw, shaded; None: nothing shaded.
    """
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
    plain_log_axis(top)
    top.set_ylabel("growth of $1 (log scale)")
    top.set_title(title)
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bottom.set_ylabel("drawdown")
    percent_axis(bottom.yaxis)
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


CASH_COLOUR = "#d9d9d9"


def distinct_colours(n: int) -> list:
    """``n`` colours no two of which repeat (up to 60; beyond, hues spaced evenly).

    tab20's dark shades first, then its light ones, so bands stacked next to each other differ
    in hue, not only in lightness; then tab20b and tab20c.

    Parameters
    ----------
    n
        Number of colours.
    """
    from matplotlib import colormaps

    tab20 = list(colormaps["tab20"].colors)
    pool = tab20[0::2] + tab20[1::2] + list(colormaps["tab20b"].colors) + list(
        colormaps["tab20c"].colors)
    pool = [c for c in pool if len(set(c[:3])) > 1]  # the greys are cash's
    if n <= len(pool):
        return pool[:n]
    return [colormaps["hsv"](i / n) for i in range(n)]


def save_weights(weights: pd.DataFrame, path: Path, title: str) -> Path:
    """Stacked target weights held from each rebalance to the next, one distinct colour per
    asset, the uninvested rest (or a ``cash`` column) as a grey cash band on top.

    Parameters
    ----------
    weights
        Target weights per rebalance date, shape (D, N) (fractions of the value; a ``cash``
        column optional).
    path
        PNG file to write.
    title
        Figure title.
    """
    w = weights.fillna(0.0).clip(lower=0.0)
    cash_cols = [c for c in w.columns if str(c).lower() == "cash"]
    cash = w[cash_cols].sum(axis=1) if cash_cols else (1.0 - w.sum(axis=1)).clip(lower=0.0)
    assets = w.drop(columns=cash_cols)
    assets = assets.loc[:, assets.abs().sum() > 0]  # never-held assets add legend noise only
    colours = distinct_colours(assets.shape[1])
    series = [assets[c].to_numpy() for c in assets.columns]
    labels = [str(c) for c in assets.columns]
    if (cash > 1e-9).any():
        series.append(cash.to_numpy())
        labels.append("cash")
        colours = [*colours, CASH_COLOUR]
    fig, ax = plt.subplots(figsize=(12, 5))
    ax.stackplot(w.index, *series, labels=labels, colors=colours, lw=0, step="post")
    ax.set_ylim(0, max(1.0, float((assets.sum(axis=1) + cash).max())))
    ax.set_xlim(w.index[0], w.index[-1])
    percent_axis(ax.yaxis)
    ax.set_ylabel("target weight (share of portfolio value)")
    ax.set_title(title)
    handles, names = ax.get_legend_handles_labels()  # top band first, as stacked
    ax.legend(handles[::-1], names[::-1], loc="center left", bbox_to_anchor=(1.0, 0.5),
              fontsize=8, ncol=1 if len(names) <= 24 else 2, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


REGIME_COLOURS = {"bull": "#2ca02c", "sideways": "#bbbbbb", "bear": "#d62728"}


def save_regime_timeline(
    wealth: pd.Series, regimes: pd.Series, exposure: pd.Series, path: Path, title: str
) -> Path:
    """Growth of $1 with the regime acted on shaded behind it, and the invested share below.

    Parameters
    ----------
    wealth
        Growth of $1 per session, shape (T,).
    regimes
        Regime acted on per decision date (``bull``, ``bear``, ``sideways``).
    exposure
        Invested share (1 − cash) per decision date.
    path
        PNG file to write.
    title
        Figure title.
    """
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.plot(wealth.index, wealth.to_numpy(), color="black", lw=1.0)
    plain_log_axis(top)
    daily = regimes.reindex(wealth.index, method="ffill")
    change = daily.ne(daily.shift()).cumsum()
    blocks = [block for _, block in daily.groupby(change)]
    for block, after in zip(blocks, [*blocks[1:], None], strict=True):
        label = block.iloc[0]
        end = block.index[-1] if after is None else after.index[0]  # no gap to the next
        if isinstance(label, str):
            top.axvspan(block.index[0], end, color=REGIME_COLOURS.get(label, "white"),
                        alpha=0.25, lw=0)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.35) for c in REGIME_COLOURS.values()]
    top.legend(handles, list(REGIME_COLOURS), loc="upper left")
    top.set_ylabel("strategy growth of $1 (log scale)")
    top.set_title(title)
    bottom.fill_between(exposure.index, exposure.to_numpy(), step="post", alpha=0.6)
    bottom.set_ylim(0, 1.05)
    percent_axis(bottom.yaxis)
    bottom.set_ylabel("invested share")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path

