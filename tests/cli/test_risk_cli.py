"""`autoport stress` end to end: JSON shape, artifacts, MLflow; user errors without tracebacks."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from autoport_cli import stress as stress_cmd


@pytest.fixture(scope="module")
def app():
    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("stress")(stress_cmd.stress)

    @app.callback()
    def _root() -> None:  # keep `stress` a named sub-command
        pass

    return app


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def test_stress_json_end_to_end(app, home):
    weights = home / "w.json"
    weights.write_text(json.dumps({"AAPL": 0.4, "JPM": 0.3, "XOM": 0.2, "JNJ": 0.1}))
    out = home / "out"
    res = CliRunner().invoke(
        app,
        [
            "stress",
            "--weights",
            str(weights),
            "--method",
            "all",
            "--paths",
            "5000",
            "--json",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    vm = payload["var_metrics"]
    assert {"parametric", "historical", "monte_carlo", "monte_carlo_copula"} <= set(vm)
    for m in vm.values():
        assert m["expected_shortfall"] <= m["var"] < 0
        assert m["confidence_level"] == 0.95 and m["horizon"] == 1
    st = payload["stress_test_results"]
    assert len(st) >= 20 and {"scenario", "pnl"} <= set(st[0])
    pnls = [s["pnl"] for s in st if s["pnl"] is not None]
    assert pnls == sorted(pnls)
    assert any(s["skipped"] and "outside" in s["note"] for s in st)
    assert payload["worst_case"]["pnl"] == pnls[0]
    comps = sum(a["component_var"] for a in payload["risk_attribution"]["assets"])
    assert comps == pytest.approx(payload["risk_attribution"]["var"])
    bt = payload["var_backtest"]
    assert {
        "method",
        "confidence_level",
        "observations",
        "breaches",
        "breach_rate",
        "kupiec_pvalue",
        "christoffersen_pvalue",
    } <= set(bt)
    assert 0.04 < bt["breach_rate"] < 0.06
    assert payload["recommendations"]
    for f in (
        "report.json",
        "loss_distribution.png",
        "stress_scenarios.png",
        "correlation_heatmap.png",
    ):
        assert (out / f).stat().st_size > 0
    assert payload["run_id"] and (home / "mlflow.db").exists()


def test_stress_strategy_and_rich_output(app, home):
    res = CliRunner().invoke(
        app,
        [
            "stress",
            "--strategy",
            "equal_weight",
            "--method",
            "parametric",
            "--confidence",
            "0.99",
            "--horizon",
            "5",
            "--no-track",
        ],
    )
    assert res.exit_code == 0, res.output
    out = " ".join(res.stdout.split())
    assert "equal_weight: 1/N over 20 assets" in out
    assert "VaR backtest" in out and "Kupiec LR p" in out and "exact binomial p" in out and "99.0%" in out


@pytest.mark.parametrize(
    ("weights", "args", "message"),
    [
        ({"AAPL": 0.5, "NOPE": 0.5}, [], "NOPE"),
        ({"AAPL": 0.5, "MSFT": 0.3}, [], "sum to 0.800000"),
        ({"AAPL": "x"}, [], "not numbers"),
        ({"AAPL": 1.0}, ["--confidence", "1.5"], "confidence"),
        ({"AAPL": 1.0}, ["--strategy", "equal_weight"], "either --weights or --strategy"),
        ({"AAPL": 1.0}, ["--scenarios", "/nonexistent.yaml"], "does not exist"),
    ],
)
def test_bad_inputs_exit_1_with_a_message(app, home, weights, args, message):
    path = home / "w.json"
    path.write_text(json.dumps(weights))
    res = CliRunner().invoke(app, ["stress", "--weights", str(path), "--no-track", *args])
    assert res.exit_code == 1
    assert message in res.output
    assert "Traceback" not in res.output
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())


@pytest.mark.parametrize(("args", "listed"), [
    (["--method", "garch"], "'parametric', 'historical', 'monte_carlo', 'all'"),
    (["--backtest-model", "garch"], "'filtered_historical', 'ewma_normal'"),
    (["--sampler", "halton"], "'antithetic', 'sobol', 'plain'"),
    (["--strategy", "nope"], "'autopilot', 'dqn', 'equal_weight', 'mpt', 'regime'"),
])
def test_bad_choices_are_usage_errors_listing_the_values(app, home, args, listed):
    """A fixed set of values is checked by Typer: exit 2 and the values, nothing written."""
    res = CliRunner().invoke(app, ["stress", "--no-track", *args])
    assert res.exit_code == 2
    assert listed in " ".join(res.output.replace("│", " ").split())
    assert not (home / "runs").exists()


def test_user_price_file_too_short_for_the_backtest(app, home):
    from autoport import data

    prices = home / "p.csv"
    data.bundled_prices().iloc[-300:, :5].to_csv(prices)
    res = CliRunner().invoke(app, ["stress", "--prices", str(prices), "--no-track"])
    assert res.exit_code == 1 and "--backtest-window (500)" in res.output
    res = CliRunner().invoke(
        app,
        [
            "stress",
            "--prices",
            str(prices),
            "--backtest-window",
            "100",
            "--window",
            "250",
            "--paths",
            "2000",
            "--no-track",
            "--json",
            "--out",
            str(home / "o"),
        ],
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["portfolio"]["weights"] == pytest.approx(
        {t: 0.2 for t in ["AAPL", "AMD", "BAC", "BBY", "CVX"]}
    )
    # 299 returns, minus the window, minus the 20 days that seed the EWMA volatility filter
    assert payload["var_backtest"]["observations"] == 299 - 100 - 20
    # the user's file covers 2021-2022 only: the older windows are skipped with a note
    skipped = [s for s in payload["stress_test_results"] if s["skipped"]]
    assert any(s["scenario"] == "2008 Lehman" for s in skipped)


def test_config_file_merges_with_options(app, home):
    cfg = home / "stress.yaml"
    cfg.write_text(
        "method: historical\nconfidence: 0.99\nbacktest_model: ewma_normal\n"
        "risk_budgets: {AAPL: 2, MSFT: 1}\n"
    )
    res = CliRunner().invoke(
        app,
        ["stress", "--config", str(cfg), "--confidence", "0.975", "--no-track", "--json",
         "--out", str(home / "o")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert set(payload["var_metrics"]) == {"historical", "historical_age_weighted"}
    assert payload["var_metrics"]["historical"]["confidence_level"] == 0.975  # option wins
    assert payload["var_backtest"]["method"] == "ewma_normal"  # from the file
    budget = {r["name"]: r["budget"] for r in payload["risk_attribution"]["risk_budget"]["assets"]}
    assert budget["AAPL"] == pytest.approx(2 / 3) and budget["JPM"] == 0.0
    saved = json.loads((home / "o" / "config.json").read_text())
    assert saved["confidence"] == 0.975 and saved["method"] == "historical"
    cfg.write_text("methd: all\n")
    res = CliRunner().invoke(app, ["stress", "--config", str(cfg), "--no-track"])
    assert res.exit_code == 1 and "methd" in res.output and "Traceback" not in res.output


def test_unknown_strategy_and_bad_json(app, home):
    bad = home / "bad.json"
    bad.write_text("{not json")
    res = CliRunner().invoke(app, ["stress", "--weights", str(bad), "--no-track"])
    assert res.exit_code == 1 and "not valid JSON" in res.output
