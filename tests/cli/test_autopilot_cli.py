"""End to end: ``autoport backtest --strategy autopilot`` through zipline on a short window."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from autoport import data
from autoport.autopilot import aftertax, explain, report
from autoport.backtest import load_config, run_backtest
from autoport.strategies import make_strategy
from autoport_cli.main import app

SETTINGS = {"regime": {"enabled": False}, "tax_optimization": True, "calendar": "monthly"}
START, END = "2007-06-01", "2008-12-31"


def _config(tmp_path):
    path = tmp_path / "autopilot_backtest.yaml"
    path.write_text(yaml.safe_dump({"strategy": "autopilot", "window": 252,
                                    "strategy_params": {"settings": SETTINGS}}))
    return path


@pytest.mark.slow
def test_backtest_cli_writes_one_explained_record_per_decision(home, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "backtest", "--config", str(_config(tmp_path)), "--start", START, "--end", END,
        "--out", str(out), "--json", "--no-track",
    ])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["strategy"] == "autopilot"
    records = [json.loads(line) for line in (out / "decisions.jsonl").read_text().splitlines()]
    assert len(records) == 19  # month starts from 2007-06 to 2008-12
    actions = {r["action"] for r in records}
    assert "initial" == records[0]["action"] and actions & {"override_enter", "rebalance"}
    for r in records:
        assert {"action", "trigger", "inputs", "rule", "trades", "expected_effect"} <= set(r)
        assert r["inputs"]["var_limit"] == -0.03
        for t in r["trades"]:
            assert t["why"] and t["shares"] != 0
    # 2008: the override cut risk and said why
    enter = next(r for r in records if r["action"] == "override_enter")
    assert enter["date"] >= "2007-07-01" and enter["override"]["reasons"]
    assert "defensive" in " ".join(explain.explain(enter))
    # The report renders the key decisions in sentences and attributes the return vs 1/N.
    sentences = (out / "decisions.md").read_text()
    assert explain.render_record(enter) in sentences
    # each decision once: its trigger sentence is not repeated per trade
    many = [r for r in explain.key_decisions(records) if r["trigger"] and len(r["trades"]) > 1]
    assert many
    for r in many:
        section = explain.render_record(r)
        assert section in sentences and section.count("; ".join(r["trigger"])) <= 2
        assert all(f" {t['ticker']} at " in section for t in r["trades"])
    attribution = json.loads((out / "attribution.json").read_text())
    # the attribution reconciles with the engine: gross - costs - residual = engine return
    rec = attribution["reconciliation"]
    engine = (1 + pd.read_csv(out / "daily_returns.csv", index_col=0).iloc[:, 0]).prod() - 1
    assert rec["engine_return"] == pytest.approx(engine, rel=1e-9)
    assert rec["gross_return"] - rec["cost_drag"] - rec["residual"] == pytest.approx(
        engine, abs=1e-9)
    assert rec["cost_drag"] > 0 and abs(rec["residual"]) < 1e-4
    assert rec["gross_return_compounded"] > rec["engine_return"]
    assert sum(attribution["by_asset"].values()) == pytest.approx(rec["gross_return"])
    assert attribution["taxes"]["pre_tax_return"] - attribution["taxes"]["tax_drag"] == \
        pytest.approx(summary["after_tax"]["strategy"]["after_tax_return"])
    brinson = attribution["brinson"]
    assert set(attribution) >= {"by_asset", "by_sector", "brinson", "drags"}
    assert isinstance(brinson, dict) and brinson
    # pre- and after-tax for the autopilot and 1/N, the same tax book and rates for both
    taxes = summary["after_tax"]
    assert taxes["short_term_rate"] == 0.37 and "withdrawal" in taxes["method"]
    for side in ("strategy", "baseline"):
        f = taxes[side]
        assert f["after_tax_return"] <= f["pre_tax_return"] + 1e-12
        assert f["pre_tax_return"] == pytest.approx(
            (1 + pd.read_csv(out / "daily_returns.csv", index_col=0).iloc[:, 0 if side ==
             "strategy" else 1]).prod() - 1)
    assert (out / "after_tax.json").exists() and (out / "daily_returns_after_tax.csv").exists()
    assert "| 1/N (equal_weight) |" in sentences and "after-tax" in sentences
    drags = attribution["drags"]
    assert drags["turnover_annual"] > 0 and drags["cost_drag_annual"] > 0


@pytest.mark.slow
def test_every_engine_transaction_is_an_explained_order(home):
    prices = data.bundled_prices().loc[:END]
    cfg = load_config(None, {"strategy": "autopilot", "start": START, "end": END})
    cfg = cfg.model_copy(update={"strategy_params": {"settings": SETTINGS}})
    outcome = run_backtest(cfg, prices, make_strategy=make_strategy)
    run = outcome.strategy
    sessions = prices.index
    orders = {(pd.Timestamp(r["date"]), t["ticker"]): t["shares"]
              for r in run.records for t in r["trades"]}
    assert len(run.transactions) == len(orders) > 50
    for day, tx in run.transactions.iterrows():
        decided = sessions[sessions.get_loc(day) - 1]
        assert orders[(decided, tx["symbol"])] == tx["amount"]
    # the report's tax book (a replay of the engine's trades) is the autopilot's own book
    last = run.records[-1]
    book = aftertax.replay(run.transactions)
    sold = [r for r in book.realized if r.sold <= pd.Timestamp(last["date"])]
    own = last["tax_status"]
    assert sum(r.gain for r in sold if r.term == "short") == pytest.approx(
        own["realized_short_term"], rel=1e-9, abs=1e-6)
    assert sum(r.gain for r in sold if r.term == "long") == pytest.approx(
        own["realized_long_term"], rel=1e-9, abs=1e-6)
    # 1/N trades too (it rebalances monthly): its after-tax figure uses the same rates
    rep = report.build(outcome, prices, data.sector_map())
    base = rep.after_tax["baseline"]
    assert len(book.realized) > 0 and len(aftertax.replay(outcome.baseline.transactions).realized)
    assert base["after_tax_return"] <= base["pre_tax_return"] + 1e-12
    assert rep.after_tax_returns.shape == (len(run.returns), 2)
