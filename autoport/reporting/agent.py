"""Figures of a trained agent: its training curves and its test episodes beside 1/N.

Edge module: given a ``path`` each function writes a PNG there and closes the figure. Inputs are
the plain records train-agent already keeps (``TrainingResult.validation_curve`` and
``train_curve``, the evaluation's per-episode table), so no torch is needed to draw them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from autoport.reporting.backtest import percent_axis  # noqa: E402

DPI = 100  # 11 inches wide: 1100 px

SUCCESS, FAILURE, REFERENCE = "tab:green", "tab:red", "0.6"


def save_training_curve(
    validation_curve: Iterable[Mapping[str, float]],
    train_curve: Iterable[tuple[int, float]],
    path: Path,
    *,
    best_step: int | None = None,
    target_success_rate: float | None = None,
    title: str = "DQN training",
) -> Path:
    """Validation success rate (and the top action's share) at each evaluation above; training
    episode rewards with their moving mean below; the kept (best) step marked on both.

    Parameters
    ----------
    validation_curve
        One mapping per evaluation: ``step``, ``success_rate`` (and ``most_common_share``).
    train_curve
        ``(step, episode reward)`` per training episode.
    path
        PNG file to write.
    best_step
        The step of the kept model, marked; None: not marked.
    target_success_rate
        Drawn as a dashed line; None: not drawn.
    title
        Figure title.
    """
    val = pd.DataFrame(list(validation_curve))
    train = pd.DataFrame(list(train_curve), columns=["step", "episode_reward"])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    if not val.empty:
        top.plot(val["step"], val["success_rate"], marker="o", ms=3, color="tab:blue",
                 label="validation success rate")
        if "most_common_share" in val:
            top.plot(val["step"], val["most_common_share"], ls=":", color="tab:purple",
                     label="share of the most used action")
    if target_success_rate is not None:
        top.axhline(target_success_rate, color="black", ls="--", lw=0.9,
                    label=f"target {target_success_rate:.0%}")
    top.set_ylim(0, 1.02)
    percent_axis(top.yaxis)
    top.set_ylabel("share of validation episodes")
    top.set_title(f"{title}: validation after each evaluation (success = beats 1/N's Sharpe "
                  "within the drawdown limit)", fontsize=10)
    if not train.empty:
        window = len(train) // 20  # a moving mean only where there are episodes to average
        bottom.plot(train["step"], train["episode_reward"], color="0.7" if window > 1 else
                    "tab:orange", lw=0.6 if window > 1 else 1.2, label="training episode reward")
        if window > 1:
            bottom.plot(train["step"], train["episode_reward"].rolling(window, min_periods=1)
                        .mean(), color="tab:orange", lw=1.5,
                        label=f"moving mean ({window} episodes)")
    bottom.set_ylabel("episode reward")
    bottom.set_xlabel("environment steps")
    for ax in (top, bottom):
        if best_step is not None:
            ax.axvline(best_step, color="tab:green", lw=1.0,
                       label=f"kept model (step {best_step:,})" if ax is top else None)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[1]:
            ax.legend(fontsize=8, loc="upper left" if ax is bottom else "lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def save_episodes(episodes: pd.DataFrame, path: Path, *, name: str = "agent",
                  title: str | None = None) -> Path:
    """Sharpe per test episode, the agent beside 1/N; the agent's bar is green where the episode
    counts as a success (its ``success`` column) and red where not.

    Parameters
    ----------
    episodes
        One row per test episode: ``sharpe`` (the agent), ``equal_weight_sharpe``, and optionally
        ``success`` and ``start``.
    path
        PNG file to write.
    name
        Label of the agent's bars.
    title
        Figure title; None: a default naming the agent and 1/N.
    """
    x = np.arange(len(episodes))
    ok = episodes["success"].astype(bool).to_numpy() if "success" in episodes else None
    colours = ([SUCCESS if s else FAILURE for s in ok] if ok is not None
               else ["tab:blue"] * len(episodes))
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.bar(x - 0.2, episodes["sharpe"], width=0.4, color=colours)
    ax.bar(x + 0.2, episodes["equal_weight_sharpe"], width=0.4, color=REFERENCE)
    labels = [str(s)[:10] for s in episodes["start"]] if "start" in episodes else list(x)
    ax.set_xticks(list(x), labels, rotation=60, fontsize=7, ha="right")
    ax.set_xlabel("episode start")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel("annualised Sharpe ratio")
    handles = ([Patch(color=SUCCESS, label=f"{name}: success"),
                Patch(color=FAILURE, label=f"{name}: not a success")] if ok is not None
               else [Patch(color="tab:blue", label=name)])
    handles.append(Patch(color=REFERENCE, label="1/N"))
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title is None:
        title = f"Sharpe per test episode: {name} beside 1/N"
        if ok is not None:
            title += (f"; {int(ok.sum())} of {len(ok)} episodes succeed (beat 1/N's Sharpe "
                      "within the drawdown limit)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
