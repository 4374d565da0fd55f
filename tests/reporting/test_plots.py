"""Every figure autoport writes, drawn from a small run: written, non-empty, at the size meant,
each legend naming each series once, and the reader-facing fixes of issue 18 held in place."""

from __future__ import annotations

from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from autoport import reporting  # noqa: E402
from autoport.data import bundled_prices, sector_map  # noqa: E402


@pytest.fixture
def drawn(monkeypatch):
    """Each figure saved during the test, keyed by file name: what a reader sees is checked
    on the figure itself just before it is written (the save_* functions close it after)."""
    seen: dict[str, Figure] = {}
    original = Figure.savefig

    def spy(self, fname, *args, **kwargs):
        seen[str(getattr(fname, "name", fname)).rsplit("/", 1)[-1]] = self
        return original(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    return seen


def _png(path, size=None, min_bytes=15_000):
    """The file exists, is a PNG of some substance, and has the pixel size ``size`` (w, h)."""
    assert path.exists(), path
    assert path.stat().st_size > min_bytes, (path, path.stat().st_size)
    with Image.open(path) as im:
        assert im.format == "PNG"
        if size is not None:
            assert im.size == size, (path.name, im.size)
        return im.size


def _legend_labels(fig: Figure) -> list[list[str]]:
    """Each legend's entries; every legend must name each series once."""
    legends = [ax.get_legend() for ax in fig.axes] + list(fig.legends)
    out = [[t.get_text() for t in lg.get_texts()] for lg in legends if lg is not None]
    for labels in out:
        assert not [k for k, n in Counter(labels).items() if n > 1], labels
    return out


@pytest.fixture(scope="module")
def returns() -> pd.DataFrame:
    return bundled_prices().pct_change().dropna().iloc[-520:]


def test_comparison_and_regime_timeline(returns, tmp_path, drawn):
    strat, ew = returns.iloc[:, :5].mean(axis=1), returns.mean(axis=1)
    curves = {"mpt": strat, "1/N": ew, "S&P 500": ew * 0.9}
    reporting.save_comparison(curves, tmp_path / "comparison.png", "mpt vs 1/N and S&P 500",
                              in_sample_end=returns.index[100])
    _png(tmp_path / "comparison.png", (1100, 700))
    labels = _legend_labels(drawn["comparison.png"])
    assert {"mpt", "1/N", "S&P 500"} <= set(labels[0])

    regimes = pd.Series(["bull", "bear", "sideways", "bull"], index=returns.index[::130])
    reporting.save_regime_timeline((1 + strat).cumprod(), regimes, pd.Series(0.9, returns.index),
                                   tmp_path / "regime_timeline.png", "regime acted on")
    _png(tmp_path / "regime_timeline.png", (1100, 600))
    fig = drawn["regime_timeline.png"]
    assert _legend_labels(fig) == [["bull", "sideways", "bear"]]
    top = fig.axes[0]
    assert "log" in top.get_ylabel() and top.get_yscale() == "log"
    ticks = [t.get_text() for t in top.get_yticklabels() if t.get_text()]
    assert len(ticks) >= 3 and not any("10^" in t or "times" in t for t in ticks), ticks


def test_weights_have_a_colour_per_asset_and_a_cash_band(returns, tmp_path, drawn):
    rng = np.random.default_rng(0)
    dates = returns.index[::21]
    weights = pd.DataFrame(rng.dirichlet(np.ones(returns.shape[1]), len(dates)) * 0.9,
                           index=dates, columns=returns.columns)  # 10% left in cash
    reporting.save_weights(weights, tmp_path / "weights.png", "mpt target weights")
    _png(tmp_path / "weights.png", (1200, 500))
    fig = drawn["weights.png"]
    (labels,) = _legend_labels(fig)
    assert sorted(labels) == sorted([*returns.columns, "cash"])
    ax = fig.axes[0]
    assert ax.get_ylabel()
    colours = [mcolors.to_hex(c.get_facecolor()[0]) for c in ax.collections]
    assert len(colours) == returns.shape[1] + 1 and len(set(colours)) == len(colours)
    assert len(reporting.distinct_colours(45)) == len(set(reporting.distinct_colours(45))) == 45


def test_tear_sheet_names_the_strategy_and_draws_one_over_n(returns, tmp_path, drawn):
    strat, ew = returns.iloc[:, :5].mean(axis=1), returns.mean(axis=1)
    reporting.save_tear_sheet(strat, ew * 0.9, tmp_path / "tear_sheet.png", name="mpt",
                              baseline=ew)
    width, height = _png(tmp_path / "tear_sheet.png", min_bytes=200_000)
    assert width >= 1200 and height >= 4000  # 100 dpi: the heatmap's digits are legible
    fig = drawn["tear_sheet.png"]
    labels = _legend_labels(fig)
    assert ["S&P 500", "mpt", "1/N"] in labels
    assert not any(lab in ("Backtest", "Portfolio") for group in labels for lab in group)
    assert ["mpt"] in labels  # the drawdown periods panel names the strategy too
    assert not any("None" in ax.get_title() for ax in fig.axes)


def test_frontier_ignores_an_excluded_asset_for_its_range(tmp_path, drawn):
    from autoport.optimize.config import OptimizeConfig
    from autoport.optimize.report import optimize_report

    prices = bundled_prices().iloc[-800:]
    vol = prices.pct_change().std()
    wild = str(vol.idxmax())
    cfg = OptimizeConfig.model_validate({"window": 504, "frontier_points": 15,
                                         "objective": "max_sharpe",
                                         "constraints": {"exclude": [wild]}})
    report = optimize_report(prices, cfg)
    reporting.plot_frontier(report, tmp_path / "frontier.png")
    _png(tmp_path / "frontier.png", (960, 660))
    ax = drawn["frontier.png"].axes[0]
    _legend_labels(drawn["frontier.png"])
    wild_vol = float(np.sqrt(report.cov.loc[wild, wild]))
    others = max(float(np.sqrt(report.cov.loc[t, t])) for t in report.mu.index if t != wild)
    assert wild_vol > others  # else the check below proves nothing
    assert ax.get_xlim()[1] < wild_vol
    names = [t.get_text() for t in ax.texts]
    assert wild not in names and any(wild in n and "excluded" in n for n in names)


@pytest.fixture(scope="module")
def risk():
    from autoport.risk import report as rr
    from autoport.risk import stress as st

    prices = bundled_prices().iloc[-900:]
    weights = pd.Series(1 / prices.shape[1], index=prices.columns)
    return rr.risk_report(prices, weights, window=500, scenarios=st.load_scenarios(None),
                          sectors=sector_map(), n_paths=5_000, backtest_window=250)


def test_risk_figures(risk, tmp_path, drawn):
    paths = reporting.save_risk_plots(risk, tmp_path, 0.95)
    _png(paths[0], (990, 550))  # 110 dpi
    (labels,) = _legend_labels(drawn["loss_distribution.png"])
    assert sum(lab.startswith("VaR") for lab in labels) == 1
    assert sum(lab.startswith("ES") for lab in labels) == 1
    assert len(risk.var_results) > 1  # one method drawn of several

    done = [r for r in risk.stress if not r.skipped]
    _png(paths[1], (990, int(round(110 * max(4, 0.3 * len(done) + 1)))))
    bars = drawn["stress_scenarios.png"].axes[0].patches
    colours = {mcolors.to_hex(b.get_facecolor()) for b in bars}
    assert len(colours) > len(done) // 2  # shaded by severity, not one red for all
    for bar in bars:
        r, g, _b, _ = bar.get_facecolor()
        assert (r > g) == (bar.get_width() < 0)  # losses red, gains green

    _png(paths[2], (770, 660))


def test_regime_timeline_shades_the_regime_acted_on(tmp_path, drawn):
    from autoport.regime.config import parse_config
    from autoport.regime.report import regime_report
    from autoport.synthetic import regime_switching_prices

    prices, _ = regime_switching_prices(700, seed=5)
    cfg = parse_config("detector: {returns: assets, min_train: 300, refit_every: 200, "
                       "n_restarts: 1}\nstrategy: {regimes: {bull: {objective: max_sharpe}, "
                       "sideways: {objective: min_volatility}, bear: {objective: "
                       "min_volatility}}}\n")
    reporting.plot_regimes(regime_report(prices, cfg), tmp_path / "regime_timeline.png")
    _png(tmp_path / "regime_timeline.png", (1210, 770))
    fig = drawn["regime_timeline.png"]
    _legend_labels(fig)
    assert fig.axes[0].get_ylabel()
    for ax in fig.axes:  # no step line coding regimes as 1 / .5 / 0
        for line in ax.get_lines():
            assert not set(np.unique(line.get_ydata())) <= {0.0, 0.5, 1.0}
    assert fig.axes[2].patches  # the strip shaded by the regime acted on


def test_agent_figures(tmp_path, drawn):
    episodes = pd.DataFrame({
        "start": pd.date_range("2019-01-01", periods=12, freq="MS"),
        "sharpe": np.linspace(-1, 2, 12), "equal_weight_sharpe": np.full(12, 0.5),
        "success": [s > 0.5 for s in np.linspace(-1, 2, 12)],
    })
    reporting.save_episodes(episodes, tmp_path / "episodes.png", name="dqn")
    _png(tmp_path / "episodes.png", (1100, 450))
    fig = drawn["episodes.png"]
    (labels,) = _legend_labels(fig)
    assert labels == ["dqn: success", "dqn: not a success", "1/N"]
    ax = fig.axes[0]
    assert f"{int(episodes['success'].sum())} of 12" in ax.get_title()
    green = mcolors.to_rgba("tab:green")
    assert sum(p.get_facecolor() == green for p in ax.patches) == episodes["success"].sum()

    curve = [{"step": s, "success_rate": 0.4 + s / 1e5, "mean_excess_sharpe": 0.1,
              "most_common_share": 0.5} for s in range(5_000, 30_001, 5_000)]
    train = [(s, float(np.sin(s / 1e3))) for s in range(500, 30_001, 500)]
    reporting.save_training_curve(curve, train, tmp_path / "training_curve.png",
                                  best_step=25_000, target_success_rate=0.75)
    _png(tmp_path / "training_curve.png", (1100, 650))
    labels = _legend_labels(drawn["training_curve.png"])
    assert "target 75%" in labels[0] and "kept model (step 25,000)" in labels[0]


def test_promotion_figures_say_what_they_draw(tmp_path, drawn):
    """A DQN run's evaluation has the agent's chained test episodes only: the title says so
    instead of promising references; a backtest's names the references it draws."""
    from autoport.promotion import evaluate as ev
    from autoport.promotion.report import write_report

    idx = pd.bdate_range("2021-01-01", periods=126)
    episodes = pd.DataFrame({"start": [idx[0], idx[63]], "sharpe": [1.2, -0.3],
                             "equal_weight_sharpe": [0.8, 0.1], "success": [True, False]})
    agent = ev.Evaluation("train-agent", idx[0], idx[-1], {"success_rate": 0.5},
                          curves={"agent": pd.Series(0.001, idx)}, episodes=episodes)
    record = ev.RunRecord("r1", "agents", "dqn-x", {"command": "train-agent", "strategy": "dqn"},
                          {}, {}, None)
    write_report(tmp_path, record=record, evaluation=agent, results=[], promoted=False,
                 outcome={})
    title = drawn["test_period.png"].axes[0].get_title()
    assert "dqn agent alone" in title and "vs" not in title
    _png(tmp_path / "test_period.png", (1100, 700))
    _png(tmp_path / "episodes.png", (1100, 450))
    assert "1 of 2 episodes succeed" in drawn["episodes.png"].axes[0].get_title()

    backtest = ev.Evaluation("backtest", idx[0], idx[-1], {}, curves={
        "mpt": pd.Series(0.001, idx), "1/N": pd.Series(0.0005, idx),
        "S&P 500": pd.Series(0.0004, idx)})
    record = ev.RunRecord("r2", "backtests", "mpt-x", {"command": "backtest", "strategy": "mpt"},
                          {}, {}, None)
    (tmp_path / "backtest").mkdir()
    write_report(tmp_path / "backtest", record=record, evaluation=backtest, results=[],
                 promoted=False, outcome={})
    assert drawn["test_period.png"].axes[0].get_title() == "test period: mpt vs 1/N, S&P 500"
