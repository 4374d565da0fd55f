"""Sweep specs: every bad spec is refused with one message before any trial runs."""

from __future__ import annotations

from datetime import date

import pytest

from autoport import configfile
from autoport.backtest import BacktestConfig
from autoport.errors import ConfigError
from autoport.sweep.spec import SweepSpec, apply, check_space, load_spec, trial_count

BASE = {"target": "backtest", "strategy": "mpt", "metric": "sharpe",
        "space": {"window": {"grid": [126, 252]}}}


def spec(**changes) -> SweepSpec:
    return configfile.validate(SweepSpec, {**BASE, **changes}, "spec.yaml")


def validate_backtest(mapping):
    configfile.validate(BacktestConfig, mapping, "base config")


def test_a_backtest_spec_gets_the_default_validation_and_test_periods():
    s = spec()
    assert (s.validation.start, s.validation.end) == (date(2007, 1, 1), date(2014, 12, 31))
    assert (s.test.start, s.test.end) == (date(2015, 1, 1), date(2022, 12, 31))
    assert s.seeds == [0] and s.search.value == "random"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"space": {}}, "space is empty"),
        ({"metric": "turnover_of_the_moon"}, "not reported by backtest"),
        ({"metric": "success_rate"}, "not reported by backtest"),
        ({"validation": {"start": "2010-01-01", "end": "2016-12-31"}}, "overlaps test"),
        ({"validation": {"start": "2010-01-01", "end": "2009-12-31"}}, "must come after"),
        ({"strategy": None}, "names its strategy"),
        ({"space": {"window": {"uniform": [0.4, 0.1]}}}, "low < high"),
        ({"space": {"window": {"loguniform": [0.0, 1.0]}}}, "positive bounds"),
        ({"space": {"window": {"choice": [1], "grid": [2]}}}, "exactly one of"),
        ({"space": {"window": {"choice": []}}}, "at least one value"),
        ({"search": "optuna"}, "optuna cannot search a grid"),
        ({"search": "grid", "space": {"window": {"grid": [1]}, "max_weight": {"uniform": [0.1, 0.3]}}},
         "max_weight are not grids"),
        ({"scheduler": "asha"}, "train-agent sweeps only"),
        ({"seeds": []}, "seeds"),
        ({"trials": 0}, "trials"),
        ({"serach": "random"}, "serach"),
        ({"space": {"end": {"choice": ["2016-01-01"]}}}, "end cannot be searched"),
        ({"target": "train-agent", "strategy": None, "validation": None, "test": None,
          "metric": "success_rate", "space": {"protocol.validation_end": {"choice": ["2018-06-30"]}}},
         "protocol.validation_end cannot be searched"),
    ],
)
def test_bad_specs_get_one_message_naming_the_problem(changes, message):
    with pytest.raises(ConfigError, match=message):
        spec(**changes)


def test_train_agent_specs_keep_the_protocol_periods():
    ok = configfile.validate(SweepSpec, {"target": "train-agent", "metric": "success_rate",
                                         "scheduler": "asha",
                                         "space": {"dqn.gamma": {"uniform": [0.5, 0.99]}}}, "s")
    assert ok.validation is None and ok.scheduler == "asha"
    with pytest.raises(ConfigError, match="keeps its protocol"):
        configfile.validate(SweepSpec, {"target": "train-agent", "metric": "success_rate",
                                        "validation": {"start": "2015-01-01", "end": "2016-01-01"},
                                        "space": {"dqn.gamma": {"uniform": [0.5, 0.99]}}}, "s")


def test_apply_sets_dotted_paths_without_touching_the_base():
    base = {"window": 252, "costs": {"commission_bps": 1.0, "slippage_bps": 5.0}}
    out = apply(base, {"costs.slippage_bps": 10.0, "strategy_params.gamma": 2, "window": 126})
    assert out == {"window": 126, "costs": {"commission_bps": 1.0, "slippage_bps": 10.0},
                   "strategy_params": {"gamma": 2}}
    assert base["costs"]["slippage_bps"] == 5.0 and "strategy_params" not in base
    with pytest.raises(ConfigError, match="is a value, not a group"):
        apply(base, {"window.size": 3})


def test_a_space_key_the_config_does_not_have_is_refused_by_name():
    check_space(spec(space={"window": {"grid": [126]}, "costs.slippage_bps": {"choice": [2]}}),
                {}, validate_backtest)
    with pytest.raises(ConfigError, match="space key 'windw'"):
        check_space(spec(space={"windw": {"grid": [126]}}), {}, validate_backtest)
    with pytest.raises(ConfigError, match="space key 'costs.slipage_bps'"):
        check_space(spec(space={"costs.slipage_bps": {"choice": [2]}}), {}, validate_backtest)
    with pytest.raises(ConfigError, match="space key 'window'"):  # below the config's minimum
        check_space(spec(space={"window": {"int": [2, 30]}}), {}, validate_backtest)


def test_load_spec_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("target: backtest\nstrategy: mpt\nmetric: sharpe\nspace: {}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*space is empty"):
        load_spec(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_spec(tmp_path / "missing.yaml")


def test_trial_count_crosses_grids_with_draws():
    assert trial_count(spec()) == 2 * 16  # a grid of 2 crossed with the default 16 draws
    assert trial_count(spec(search="grid", space={"window": {"grid": [1, 2, 3]},
                                                  "max_weight": {"grid": [0.1, 0.2]}})) == 6
    assert trial_count(spec(trials=5, space={"max_weight": {"uniform": [0.1, 0.3]}})) == 5
