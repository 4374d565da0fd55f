"""`autoport sweep --start/--end` (issue 17 item 6): they narrow the prices every trial reads,
the spec's periods must lie inside them, and every option a sweep's message suggests exists.

The search itself is replaced by a stand-in that records the panel it is handed (Ray and the
trials are tested in tests/sweep/); everything before it is the real command.
"""

from __future__ import annotations

import re

import pytest
import yaml
from typer.testing import CliRunner

from autoport import data
from autoport_cli.main import app

SPEC = {"target": "backtest", "strategy": "mpt", "metric": "sharpe", "search": "grid",
        "space": {"window": {"grid": [63, 126]}},
        "validation": {"start": "2012-01-01", "end": "2013-12-31"},
        "test": {"start": "2014-01-01", "end": "2014-12-31"}}
AGENT = {"target": "train-agent", "metric": "success_rate", "search": "grid",
         "space": {"dqn.gamma": {"grid": [0.5, 0.9]}}}


class Handed(Exception):
    """Raised by the stand-in search with the panel the command handed it."""


@pytest.fixture()
def handed(monkeypatch):
    import contextlib

    from autoport.strategies.dqn import sweep as agent_sweep
    from autoport.sweep import backtest_target, runner

    def record(spec, base, panel, **kwargs):
        raise Handed(panel)

    monkeypatch.setattr(runner, "ray_session", lambda *a, **k: contextlib.nullcontext())
    monkeypatch.setattr(backtest_target, "sweep_backtest", record)
    monkeypatch.setattr(agent_sweep, "sweep_agent", record)


def _sweep(tmp_path, spec, *args):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return CliRunner().invoke(app, ["sweep", str(path), "--no-track", "--out",
                                    str(tmp_path / "out"), *args])


@pytest.mark.parametrize("spec, args, first, last", [
    (SPEC, [], "1990-01-02", "2014-12-31"),  # the test period ends the data, as before
    (SPEC, ["--start", "2011-01-01", "--end", "2015-06-30"], "2011-01-03", "2014-12-31"),
    (AGENT, ["--start", "2010-01-01", "--end", "2019-12-31"], "2010-01-04", "2019-12-31"),
])
def test_start_and_end_narrow_the_prices_of_every_trial(tmp_path, home, handed, spec, args,
                                                        first, last):
    res = _sweep(tmp_path, spec, *args)
    assert isinstance(res.exception, Handed), res.output
    panel = res.exception.args[0]
    assert (str(panel.index[0].date()), str(panel.index[-1].date())) == (first, last)
    full = data.bundled_prices()
    assert panel.equals(full.loc[first:last])


@pytest.mark.parametrize("spec, args, message", [
    (SPEC, ["--start", "2012-06-01"], "the validation period 2012-01-01..2013-12-31 starts "
                                      "before --start 2012-06-01"),
    (SPEC, ["--end", "2014-06-30"], "the test period 2014-01-01..2014-12-31 ends after --end "
                                    "2014-06-30"),
    (AGENT, ["--start", "2015-06-01"], "the training period first date..2014-12-31 ends before "
                                       "--start 2015-06-01"),
    (AGENT, ["--end", "2016-12-31"], "the validation period 2015-01-01..2017-12-31 ends after "
                                     "--end 2016-12-31"),
])
def test_a_spec_period_outside_start_end_is_one_message(tmp_path, home, spec, args, message):
    res = _sweep(tmp_path, spec, *args)
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert message in text and "Traceback" not in text
    assert not (tmp_path / "out").exists()


def test_every_option_a_sweep_message_suggests_exists(tmp_path, home):
    """A late listing and an inner gap in --prices, and a bad tick: each message's options
    are options of `autoport sweep`."""
    helped = " ".join(CliRunner().invoke(app, ["sweep", "--help"]).output.split())
    panel = data.bundled_prices().loc["2011-01-01":"2014-12-31"].iloc[:, :5].copy()
    gap, jump = panel.copy(), panel.copy()
    gap.iloc[300, 1] = float("nan")
    jump.iloc[300, 2] *= 20
    for name, frame in (("gap", gap), ("jump", jump)):
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index_label="date")
        res = _sweep(tmp_path, SPEC, "--prices", str(path))
        assert res.exit_code == 1, (name, res.output)
        suggested = set(re.findall(r"(--[a-z][a-z-]+)", " ".join(res.output.split())))
        assert suggested, (name, res.output)
        assert all(o in helped for o in suggested), (name, suggested, res.output)
