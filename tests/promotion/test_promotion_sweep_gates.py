"""The deflated-Sharpe and PBO gates: a run chosen by a sweep is judged by what that sweep's
parent run logged; a run no sweep chose is unaffected. The test-period evaluator is replaced
by fixed figures (it is not what these gates are about), the MLflow store is real."""

from __future__ import annotations

import pandas as pd
import pytest

from autoport import tracking
from autoport.promotion import promote as promote_module
from autoport.promotion.evaluate import Evaluation
from autoport.promotion.gates import GatesConfig, check_selection_gates, load_gates
from autoport.promotion.promote import promote_run

GATES = {"gates": [{"name": "drawdown", "metric": "max_drawdown", "comparison": ">=",
                    "threshold": -0.35}]}


def _dir(tmp_path, name):
    (tmp_path / name).mkdir()
    return tmp_path / name


def _evaluator(record, gates, code, toolkit):
    return Evaluation("backtest", pd.Timestamp("2018-01-02"), pd.Timestamp("2022-12-30"),
                      {"max_drawdown": -0.2}, model_config={"strategy": "mpt"})


@pytest.fixture
def runs(home, monkeypatch):
    monkeypatch.setattr(promote_module, "evaluator_for", lambda record: _evaluator)
    sweep = tracking.log_sweep("sweeps", run_name="sweep-mpt", params={"strategy": "mpt"},
                               metrics={"deflated_sharpe": 0.87, "pbo": 0.31}, trials=[],
                               tags={"command": "sweep"})
    chosen = tracking.log_run("backtests", run_name="chosen", params={}, metrics={},
                              tags={"command": "backtest", "strategy": "mpt",
                                    "sweep.parent": sweep},
                              config={"strategy": "mpt", "sweep_run_id": sweep})
    plain = tracking.log_run("backtests", run_name="plain", params={}, metrics={},
                             tags={"command": "backtest", "strategy": "mpt"},
                             config={"strategy": "mpt"})
    return sweep, chosen, plain


def test_a_sweep_chosen_run_below_the_dsr_gate_is_refused(runs, tmp_path):
    sweep, chosen, _ = runs
    gates = GatesConfig.model_validate({**GATES, "deflated_sharpe_min": 0.95, "pbo_max": 0.5})
    result = promote_run(chosen, gates, _dir(tmp_path, "a"), toolkit=None)
    assert result.promoted is False and result.model_version is None
    verdicts = {g.name: g for g in result.gates}
    dsr = verdicts["deflated_sharpe_min"]
    assert (dsr.passed, dsr.value, dsr.threshold) == (False, 0.87, 0.95)
    assert "deflated_sharpe_min" in dsr.note and sweep in dsr.note
    assert verdicts["pbo_max"].passed is True and verdicts["drawdown"].passed is True
    assert "deflated_sharpe_min" in (tmp_path / "a" / "report.md").read_text()
    # with a looser DSR bar the same run passes every gate and is registered
    loose = GatesConfig.model_validate({**GATES, "deflated_sharpe_min": 0.8, "pbo_max": 0.5})
    assert promote_run(chosen, loose, _dir(tmp_path, "b"), toolkit=None).promoted is True
    # a PBO above its bar fails on its own
    strict = GatesConfig.model_validate({**GATES, "pbo_max": 0.3})
    result = promote_run(chosen, strict, _dir(tmp_path, "c"), toolkit=None)
    assert {g.name: g.passed for g in result.gates}["pbo_max"] is False


def test_a_run_no_sweep_chose_is_unaffected(runs, tmp_path):
    _, _, plain = runs
    with_gates = promote_run(plain, GatesConfig.model_validate(
        {**GATES, "deflated_sharpe_min": 0.99, "pbo_max": 0.01}), _dir(tmp_path, "a"), toolkit=None)
    without = promote_run(plain, GatesConfig.model_validate(GATES), _dir(tmp_path, "b"),
                          toolkit=None)
    assert with_gates.promoted is without.promoted is True
    checked = [(g.name, g.passed) for g in with_gates.gates if g.passed is not None]
    assert checked == [(g.name, g.passed) for g in without.gates]
    skipped = {g.name: g.note for g in with_gates.gates if g.passed is None}
    assert set(skipped) == {"deflated_sharpe_min", "pbo_max"}


def test_a_missing_sweep_run_fails_the_gate_it_cannot_check():
    config = GatesConfig.model_validate({**GATES, "deflated_sharpe_min": 0.95})
    (result,) = check_selection_gates(config, "abc123", None)
    assert result.passed is False and "abc123" in result.note
    assert check_selection_gates(GatesConfig.model_validate(GATES), "abc123", {}) == []


def test_the_shipped_gates_file_sets_both_bars():
    shipped = load_gates()
    assert (shipped.deflated_sharpe_min, shipped.pbo_max) == (0.95, 0.5)
