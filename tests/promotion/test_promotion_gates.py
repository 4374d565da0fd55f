"""Promotion gates, evaluator registry and report: pure pieces, no zipline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport.errors import ConfigError
from autoport.promotion import evaluate as ev
from autoport.promotion.gates import (
    GateSpec, all_passed, check_gates, default_gates_path, load_gates,
)
from autoport.promotion.promote import problem_gates
from autoport.promotion.report import write_report
from autoport.risk.var_backtest import kupiec_pof
from autoport.strategies import make_strategy


def gate(**kw) -> GateSpec:
    return GateSpec.model_validate({"name": kw.pop("name", "g"), **kw})


def test_reference_and_threshold_comparisons():
    metrics = {"sharpe": 0.9, "equal_weight_sharpe": 0.8, "max_drawdown": -0.4}
    results = check_gates(metrics, [
        gate(name="beats", metric="sharpe", comparison=">", reference="equal_weight_sharpe"),
        gate(name="dd", metric="max_drawdown", comparison=">=", threshold=-0.35),
        gate(name="tie", metric="sharpe", comparison=">=", threshold=0.9),
    ], "backtest")
    assert [(r.name, r.value, r.threshold, r.passed) for r in results] == [
        ("beats", 0.9, 0.8, True), ("dd", -0.4, -0.35, False), ("tie", 0.9, 0.9, True),
    ]
    assert not all_passed(results)
    assert all_passed(results[::2])


def test_applies_to_required_and_nan():
    metrics = {"sharpe": float("nan"), "x": 1.0}
    results = check_gates(metrics, [
        gate(name="dqn", metric="success_rate", comparison=">", threshold=0.75,
             applies_to=["train-agent"]),
        gate(name="regime", metric="regime_accuracy", comparison=">", threshold=0.8,
             required=False),
        gate(name="needed", metric="success_rate", comparison=">", threshold=0.75),
        gate(name="nan", metric="sharpe", comparison=">", threshold=0.0),
        gate(name="ok", metric="x", comparison="==", threshold=1),
    ], "backtest")
    verdicts = {r.name: r.passed for r in results}
    assert verdicts == {"dqn": None, "regime": None, "needed": False, "nan": False, "ok": True}
    assert "not measured" in results[2].note
    assert not all_passed(results)
    # skipped gates alone never promote
    assert not all_passed(results[:2])


def test_default_gates_file_holds_the_issue_gates():
    config = load_gates()
    assert default_gates_path().name == "gates.yaml"
    by_name = {g.name: g for g in config.gates}
    assert by_name["beats_equal_weight"].reference == "equal_weight_sharpe"
    assert by_name["beats_max_sharpe_mpt"].reference == "max_sharpe_sharpe"
    assert by_name["dqn_success_rate"].threshold == 0.75
    assert by_name["dqn_success_rate"].applies_to == ["train-agent"]
    assert by_name["regime_accuracy"].required is False
    assert by_name["var_kupiec"].threshold == 0.05 and by_name["var_kupiec"].required is False
    assert {"data_hash_matches", "code_version_matches"} <= set(by_name)
    assert str(config.test_period.start) == "2018-01-01" and config.test_period.end is None


@pytest.mark.parametrize("body, words", [
    ("gates:\n  - {name: a, metric: m, comparison: '~', threshold: 1}\n", ["'~'", "a"]),
    ("gates:\n  - {name: a, metric: m, comparison: '>', threshold: 1, reference: r}\n",
     ["exactly one"]),
    ("gates:\n  - {name: a, metric: m, comparison: '>'}\n", ["exactly one"]),
    ("gates:\n  - {name: a, metric: m, comparison: '>', threshold: 1, colour: red}\n",
     ["colour"]),
    ("gates: []\n", ["gates"]),
    ("test_period: {start: 2020-01-01, end: 2019-01-01}\ngates:\n"
     "  - {name: a, metric: m, comparison: '>', threshold: 1}\n", ["after start"]),
    ("- just a list\n", ["mapping"]),
])
def test_bad_gates_files_name_the_problem(tmp_path, body, words):
    path = tmp_path / "gates.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_gates(path)
    for word in words:
        assert word in str(info.value)


def test_missing_gates_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_gates("/nonexistent/gates.yaml")


def test_var_gate_is_kupiec_on_the_test_returns():
    rng = np.random.default_rng(3)
    returns = pd.Series(rng.normal(0, 0.01, 600),
                        index=pd.bdate_range("2020-01-01", periods=600))
    config = load_gates()
    figures, summary, note = ev.var_metrics(returns, config)
    assert note == ""
    expected = kupiec_pof(summary["breaches"], summary["observations"], 0.95)
    assert figures["kupiec_pvalue"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert figures["var_breach_rate"] == summary["breaches"] / summary["observations"]
    # filtered historical VaR: 20 seed days for the EWMA, then the window, then forecasts
    assert summary["observations"] == 600 - config.var.window - 20
    # too short for the window: NaN with the reason, and the gate fails on NaN
    short, _, why = ev.var_metrics(returns.iloc[:100], config)
    assert np.isnan(short["kupiec_pvalue"]) and "window" in why
    (result,) = check_gates(short, [gate(metric="kupiec_pvalue", comparison=">",
                                         threshold=0.05)], "backtest")
    assert result.passed is False


AT_ABC = ev.CodeVersion("abc", "0.1.0")


def _record(command: str, tmp_path, **kw) -> ev.RunRecord:
    from autoport import data

    prices = data.bundled_prices().iloc[-300:, :4]
    path = tmp_path / "p.csv"
    prices.to_csv(path)
    params = {"data_source": str(path), "data_hash": data.content_hash(
        data.validate_prices(data.read_price_file(path)))}
    return ev.RunRecord("r1", "exp", "name", {"command": command, ev.COMMIT_TAG: "abc",
                                               "version.autoport": "0.1.0"},
                        params, {}, kw.pop("config", {"end": None}), **kw)


def test_unknown_command_cannot_be_promoted(tmp_path):
    record = _record("stress", tmp_path)
    with pytest.raises(ConfigError, match="'stress' run; only backtest, train-agent"):
        ev.evaluator_for(record)


def test_dqn_evaluator_missing_is_a_failing_gate(tmp_path):
    record = _record("train-agent", tmp_path, model_uri="models:/m-1")
    no_agent = ev.Toolkit(make_strategy=make_strategy, evaluate_model=None)
    evaluation = ev.evaluator_for(record)(record, load_gates(), AT_ABC, no_agent)
    results = problem_gates(evaluation) + check_gates(evaluation.metrics, load_gates().gates,
                                                      "train-agent")
    assert results[0].passed is False and "DQN evaluator not available" in results[0].note
    assert {r.name: r.passed for r in results}["dqn_success_rate"] is False
    assert not all_passed(results)


def test_dqn_evaluator_results_feed_the_gates(tmp_path):
    seen = {}

    def evaluate_model(model_uri, prices, config):
        seen.update(uri=model_uri, rows=len(prices), config=config)
        return {"success_rate": 0.8, "sharpe": 1.2, "max_drawdown": -0.2,
                "equal_weight_sharpe": 1.0, "max_sharpe_sharpe": 1.1, "episodes": 50}

    record = _record("train-agent", tmp_path, model_uri="models:/m-1", config={"seed": 3})
    evaluation = ev.evaluate_agent(record, load_gates(), AT_ABC,
                                   ev.Toolkit(make_strategy, evaluate_model))
    assert seen == {"uri": "models:/m-1", "rows": 300, "config": {"seed": 3}}
    assert evaluation.metrics["data_hash_match"] == 1.0
    assert evaluation.metrics["code_version_match"] == 1.0
    verdicts = {r.name: r.passed for r in check_gates(evaluation.metrics, load_gates().gates,
                                                      "train-agent")}
    assert verdicts["dqn_success_rate"] is True and verdicts["beats_equal_weight"] is True
    assert verdicts["beats_max_sharpe_mpt"] is True and verdicts["regime_accuracy"] is None
    # 0.75 exactly is not above the threshold
    at_threshold = ev.Toolkit(make_strategy,
                              lambda *a: {**evaluate_model(*a), "success_rate": 0.75})
    evaluation = ev.evaluate_agent(record, load_gates(), ev.CodeVersion("other", "0.1.0"),
                                   at_threshold)
    verdicts = {r.name: r.passed for r in check_gates(evaluation.metrics, load_gates().gates,
                                                      "train-agent")}
    assert verdicts["dqn_success_rate"] is False and verdicts["code_version_matches"] is False


def test_changed_data_fails_the_hash_gate(tmp_path):
    record = _record("train-agent", tmp_path)
    path = record.params["data_source"]
    frame = pd.read_csv(path, index_col=0)
    frame.iloc[-1, 0] *= 1.01
    frame.to_csv(path)
    _, match = ev.run_prices(record)
    assert match is False


def test_report_files(tmp_path):
    idx = pd.bdate_range("2021-01-01", periods=60)
    curves = {"mpt": pd.Series(0.001, idx), "1/N": pd.Series(0.0005, idx)}
    evaluation = ev.Evaluation("backtest", idx[0], idx[-1],
                               {"sharpe": 1.5, "equal_weight_sharpe": 1.7, "max_drawdown": -0.1},
                               curves=curves, notes=["re-ran"])
    record = ev.RunRecord("r1", "backtests", "mpt-x", {"command": "backtest"},
                          {"data_hash": "h"}, {"sharpe": 9.0, "baseline_sharpe": 1.7}, None)
    results = check_gates(evaluation.metrics, [
        gate(name="beats", metric="sharpe", comparison=">", reference="equal_weight_sharpe")],
        "backtest")
    files = write_report(tmp_path, record=record, evaluation=evaluation, results=results,
                         promoted=False, outcome={})
    assert all(f.exists() for f in files)
    md = (tmp_path / "report.md").read_text()
    assert "| beats | sharpe | 1.5000 | > | equal_weight_sharpe = 1.7000 | FAIL |" in md
    assert "| sharpe | 1.5000 | 9.0000 |" in md  # re-evaluated beside reported
    assert "| equal_weight_sharpe | 1.7000 | 1.7000 |" in md  # baseline_ is 1/N in the run
    assert "registry was not touched" in md and "test_period.png" in md
    html = (tmp_path / "report.html").read_text()
    assert '<tr class="fail">' in html and '<img src="test_period.png"' in html
    assert html.count("<ul>") == html.count("</ul>") == 2  # run facts, notes
    assert (tmp_path / "test_period.png").stat().st_size > 5000


def test_failed_alias_move_rolls_the_registry_back(tmp_path, monkeypatch):
    """If pointing `champion` fails after a version was created, the version is deleted and
    the old aliases stay where they were."""
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from mlflow import MlflowClient

    from autoport import tracking
    from autoport.promotion import registry

    config = {"strategy": "equal_weight", "window": 20}
    mlflow_mod = tracking._client()
    with mlflow_mod.start_run(experiment_id=tracking.ensure_experiment("promotions")):
        first = registry.register("m", model_uri=None, config=config, tags={})
        second = registry.register("m", model_uri=None, config=config, tags={})
    assert (first.version, second.version, second.previous_version) == ("1", "2", "1")

    def broken(self, name, alias, version):
        raise RuntimeError("server went away")

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", broken)
    with mlflow_mod.start_run(experiment_id=tracking.ensure_experiment("promotions")):
        with pytest.raises(RuntimeError, match="went away"):
            registry.register("m", model_uri=None, config=config, tags={})
    monkeypatch.undo()
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    rows = registry.list_versions("m")
    assert [(r["version"], r["aliases"]) for r in rows] == [("2", ["champion"]),
                                                           ("1", ["previous"])]


def test_regime_accuracy_against_the_peak_to_trough_dating():
    # up 50%, down 30% (a bear market), back up 50%: one bear stretch, peak to trough
    levels = pd.Series(np.concatenate([np.linspace(100, 150, 100), np.linspace(150, 105, 60),
                                       np.linspace(105, 160, 100)]),
                       index=pd.bdate_range("2019-01-01", periods=260))
    dates = levels.index[::20]
    truth = ["bear" if 100 <= i < 159 else "bull" for i in range(0, 260, 20)]
    records = [{"date": d, "regime": t} for d, t in zip(dates, truth, strict=True)]
    assert ev.regime_accuracy(records, levels) == 1.0
    # 'sideways' counts as not-bear; two wrong calls out of 13 decisions
    records[0]["regime"] = "sideways"
    records[1]["regime"] = "bear"
    records[6]["regime"] = "bull"
    assert ev.regime_accuracy(records, levels) == pytest.approx(11 / 13, abs=0)
    assert ev.regime_accuracy([{"date": dates[0], "weights": {}}], levels) is None


def _tagged(**tags) -> ev.RunRecord:
    return ev.RunRecord("r1", "exp", "name", {"command": "backtest", **tags}, {}, {}, None)


def test_code_version_rule_with_and_without_git():
    at_a = _tagged(**{ev.COMMIT_TAG: "a" * 40, "version.autoport": "0.1.0"})
    # both sides know a commit: equal commits match, a different commit is refused
    assert ev.code_version_match(at_a, ev.CodeVersion("a" * 40, "0.1.0")) == (1.0, "")
    value, note = ev.code_version_match(at_a, ev.CodeVersion("b" * 40, "0.1.0"))
    assert value == 0.0 and "mismatch" in note and "aaaaaaaaaaaa" in note
    # an older run's own tag still counts
    legacy = _tagged(git_commit="c" * 40, **{"version.autoport": "0.1.0"})
    assert ev.code_version_match(legacy, ev.CodeVersion("c" * 40, "0.1.0"))[0] == 1.0
    # no git on either side (a wheel built outside git, run outside a work tree): versions
    bare = _tagged(git_commit="unknown", **{"version.autoport": "0.1.0"})
    value, note = ev.code_version_match(bare, ev.CodeVersion(None, "0.1.0"))
    assert value == 1.0 and "compared autoport versions (0.1.0 == 0.1.0)" in note
    assert ev.code_version_match(bare, ev.CodeVersion(None, "0.2.0"))[0] == 0.0
    # a commit on one side only cannot be shown to be the same code
    assert ev.code_version_match(at_a, ev.CodeVersion(None, "0.1.0"))[0] == 0.0
    assert ev.code_version_match(bare, ev.CodeVersion("a" * 40, "0.1.0"))[0] == 0.0
    # nothing recorded at all: NaN, which the gate refuses
    value, _ = ev.code_version_match(_tagged(), ev.CodeVersion(None, "0.1.0"))
    assert np.isnan(value)
    (gate_result,) = check_gates({"code_version_match": value},
                                 [g for g in load_gates().gates if g.name == "code_version_matches"],
                                 "backtest")
    assert gate_result.passed is False


def test_regime_reference_settings_never_fall_back_silently(tmp_path):
    from autoport.regime.config import load_config

    bundled = load_config().reference
    assert ev._reference_settings({}) == {"decline": bundled.decline,
                                          "recovery": bundled.recovery}
    with pytest.raises(ConfigError, match="regime_accuracy needs the run's regime config"):
        ev._reference_settings({"config": str(tmp_path / "gone.yaml")})
