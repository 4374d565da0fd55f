"""`autoport promote` end to end on a short zipline window: failing gates leave the registry
alone, passing gates register a version as `champion` and move the old one to `previous`."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from autoport import data
from autoport_cli.main import app

TICKERS = ["AAPL", "JPM", "XOM", "JNJ", "KO", "WMT"]
TEST_PERIOD = {"start": "2021-07-01", "end": "2021-12-31"}

PASSING = """
test_period: {start: 2021-07-01, end: 2021-12-31}
var: {window: 60}
gates:
  - {name: drawdown_within_mandate, metric: max_drawdown, comparison: ">=", threshold: -0.35}
  - {name: data_hash_matches, metric: data_hash_match, comparison: "==", threshold: 1}
  - {name: var_kupiec, metric: kupiec_pvalue, comparison: ">", threshold: 0.05}
"""

FAILING = PASSING + """\
  - {name: beats_equal_weight, metric: sharpe, comparison: ">", reference: equal_weight_sharpe}
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


@pytest.fixture
def prices_file(tmp_path):
    path = tmp_path / "prices.csv"
    data.bundled_prices().loc["2020-06-01":"2021-12-31", TICKERS].to_csv(path)
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def backtest_run(prices_file, strategy: str = "equal_weight") -> dict:
    res = invoke("backtest", "--strategy", strategy, "--window", "60", "--prices",
                 str(prices_file), "--start", TEST_PERIOD["start"], "--end", TEST_PERIOD["end"],
                 "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def registered_models() -> list:
    from autoport.promotion import registry

    return registry.list_versions()


@pytest.mark.slow
def test_failing_gate_exits_nonzero_and_leaves_registry(home, prices_file):
    run = backtest_run(prices_file)
    gates = home / "gates.yaml"
    gates.write_text(FAILING)

    res = invoke("promote", run["run_id"], "--gates", str(gates), "--json")
    assert res.exit_code == 1, res.output
    payload = json.loads(res.stdout)
    assert payload["promoted"] is False
    assert payload["model_version"] is None and payload["alias"] is None
    assert payload["model_name"] == "autoport-equal_weight"
    verdicts = {g["name"]: g["passed"] for g in payload["gates"]}
    assert verdicts == {"drawdown_within_mandate": True, "data_hash_matches": True,
                        "var_kupiec": True, "beats_equal_weight": False}
    # 1/N against itself: the re-run reproduces the run's own figure to the last digit
    beats = next(g for g in payload["gates"] if g["name"] == "beats_equal_weight")
    assert beats["value"] == beats["threshold"] == run["metrics"]["sharpe"]
    assert registered_models() == []

    # the human table names every gate with value, threshold and verdict
    res = invoke("promote", run["run_id"], "--gates", str(gates))
    assert res.exit_code == 1
    assert "beats_equal_weight" in res.stdout and "FAIL" in res.stdout
    assert f"{run['metrics']['max_drawdown']:.2%}" in res.stdout and "-35.00%" in res.stdout
    assert "registry was not touched" in res.stdout and "Traceback" not in res.output
    assert registered_models() == []

    # the validation run holds the report even though nothing was promoted
    from autoport import tracking

    runs = tracking.recent_runs("promotions")
    assert len(runs) == 2 and all(r["tags"]["promoted"] == "false" for r in runs)
    assert runs[0]["tags"]["source_run_id"] == run["run_id"]
    report = next(home.glob("home/runs/promote-*/report.md")).read_text()
    assert "NOT PROMOTED" in report and "| beats_equal_weight | sharpe |" in report


@pytest.mark.slow
def test_passing_gates_register_champion_then_previous(home, prices_file):
    import mlflow

    from autoport import tracking

    run = backtest_run(prices_file)
    gates = home / "gates.yaml"
    gates.write_text(PASSING)

    res = invoke("promote", run["run_id"], "--gates", str(gates), "--name", "eq", "--json")
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout)
    assert (first["promoted"], first["model_name"], first["model_version"], first["alias"]) == (
        True, "eq", "1", "champion")
    assert [g["passed"] for g in first["gates"]] == [True, True, True]
    assert first["gates"][0]["value"] == run["metrics"]["max_drawdown"]

    res = invoke("promote", run["run_id"], "--gates", str(gates), "--name", "eq", "--json")
    assert res.exit_code == 0, res.output
    second = json.loads(res.stdout)
    assert (second["model_version"], second["previous_version"]) == ("2", "1")

    res = invoke("promote", "--list", "--name", "eq", "--json")
    assert res.exit_code == 0, res.output
    versions = json.loads(res.stdout)["versions"]
    assert [(v["version"], v["aliases"]) for v in versions] == [("2", ["champion"]),
                                                                ("1", ["previous"])]
    assert versions[0]["gates_passed"] == "3/3"
    assert versions[0]["source_run_id"] == run["run_id"]
    assert [g["name"] for g in versions[0]["gates"]] == [
        "drawdown_within_mandate", "data_hash_matches", "var_kupiec"]
    res = invoke("promote", "--list")
    assert res.exit_code == 0 and "champion" in res.stdout and "previous" in res.stdout

    # the champion is a pyfunc model: a price history in, the strategy's weights out
    mlflow.set_tracking_uri(tracking.tracking_uri())
    model = mlflow.pyfunc.load_model("models:/eq@champion")
    history = pd.read_csv(prices_file, index_col=0, parse_dates=True)
    weights = model.predict(history)
    assert list(weights.columns) == TICKERS
    assert weights.index[-1] == history.index[-1]
    assert weights.to_numpy().tolist() == [[1 / 6] * 6]


@pytest.mark.slow
def test_promote_user_errors(home, prices_file):
    res = invoke("promote", "0" * 32)
    assert res.exit_code == 1
    assert "not found" in res.output and "Traceback" not in res.output
    res = invoke("promote", "--list", "--name", "nothing")
    assert res.exit_code == 1 and "no registered model named 'nothing'" in res.output
    res = invoke("promote")
    assert res.exit_code == 1 and "RUN_ID" in res.output
    res = invoke("promote", "abc", "--test-start", "July")
    assert res.exit_code == 1 and "--test-start 'July' is not a date" in res.output


def test_train_agent_run_registers_its_own_logged_model(home, prices_file, monkeypatch):
    import sys
    import types

    import mlflow.pyfunc

    from autoport import tracking

    class Policy(mlflow.pyfunc.PythonModel):
        _skip_type_hint_validation = True

        def predict(self, context, model_input, params=None):
            return pd.DataFrame([[0.5, 0.5]], columns=["A", "B"])

    run_id, model_uri = tracking.log_model_run(
        "agents", run_name="dqn-test", params={
            "data_source": str(prices_file),
            "data_hash": data.content_hash(data.validate_prices(
                data.read_price_file(prices_file)))},
        metrics={"success_rate": 0.99}, python_model=Policy(),
        tags={"command": "train-agent", "strategy": "dqn"},
        config={"protocol": {"test_start": "2021-01-04"}},
    )
    calls = []

    def evaluate_model(uri, prices, config):
        calls.append((uri, len(prices), config))
        return {"success_rate": 0.8, "sharpe": 1.3, "max_drawdown": -0.1,
                "equal_weight_sharpe": 1.0, "max_sharpe_sharpe": 1.2, "episodes": []}

    module = types.ModuleType("autoport.strategies.dqn.evaluate")
    module.evaluate_model = evaluate_model
    monkeypatch.setitem(sys.modules, "autoport.strategies.dqn.evaluate", module)

    res = invoke("promote", run_id, "--json")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert (payload["promoted"], payload["model_name"], payload["model_version"]) == (
        True, "autoport-dqn", "1")
    verdicts = {g["name"]: g["passed"] for g in payload["gates"]}
    assert verdicts["dqn_success_rate"] is True and verdicts["var_kupiec"] is None
    # the evaluator saw the run's own model, its whole data source and its logged config
    (uri, rows, config), = calls
    assert uri.startswith("models:/m-") and rows == len(pd.read_csv(prices_file))
    assert config == {"protocol": {"test_start": "2021-01-04"}}
    # the registered version is the model the training run logged, not a copy
    from mlflow import MlflowClient

    version = MlflowClient(tracking.tracking_uri()).get_model_version_by_alias(
        "autoport-dqn", "champion")
    assert version.run_id == run_id and version.source == uri
    assert model_uri == f"runs:/{run_id}/model"
