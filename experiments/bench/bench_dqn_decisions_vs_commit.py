"""The DQN's decision code of an earlier commit against this tree's, alternating in one process.

    .venv/bin/python experiments/bench/bench_dqn_decisions_vs_commit.py [--commit C]
        [--start D] [--repeat N] [--menus]

The commit's ``autoport/optimize/_homotopy.py`` and ``warm.py`` (the warm critical-line path),
``envs.menus.equal_risk`` (risk parity's Newton solve) and ``PolicyMapper.action`` (the
Q-network call) are loaded from git beside this tree's and patched into the menus and the policy
in turn, so each run of the pair differs only in that code. Prints:

- the sim backtest of the untrained, seeded DQN + 1/N (as ``bench_sim_engine.py``) with each,
  alternating, ``--repeat`` pairs: median wall times, the ratio and whether the daily returns
  and decision records are identical;
- the same DQN's ``WarmPath.solve`` calls replayed alone (the (μ, Σ) its menus solved), each
  code alternating: µs a solve, the ratio, and whether every weight is the same bytes;
- with ``--menus``: every session's menu of the bundled panel (``menus.build``, every item) with
  each, and whether the two tables are the same bytes.

Default commit: 42a6cf4, main before the warm path's third pass (issue 13 item 3).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from autoport import data
from autoport.backtest import load_config, run_backtest
from autoport.envs import menus
from autoport.optimize import warm
from autoport.strategies.dqn import policy as policy_mod

from bench_sim_engine import untrained_dqn

ROOT = Path(__file__).resolve().parents[2]


def _show(commit: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{commit}:{path}"], capture_output=True, text=True,
                          check=True, cwd=ROOT).stdout


def _load(name: str, source: str, folder: Path):
    file = folder / f"{name}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def old_code(commit: str, folder: Path):
    """(WarmPath, equal_risk, PolicyMapper.action) as they were at ``commit``."""
    _load("old_homotopy", _show(commit, "autoport/optimize/_homotopy.py"), folder)
    old_warm = _load("old_warm", _show(commit, "autoport/optimize/warm.py").replace(
        "from autoport.optimize import _homotopy", "import old_homotopy as _homotopy"), folder)
    src = _show(commit, "envs/menus.py")
    ns: dict = {}
    exec("import numpy as np\n" + src[src.index("def equal_risk"):src.index("def _chain")], ns)
    src = _show(commit, "strategies/dqn/policy.py")
    old_policy = _load("old_policy", src, folder)
    for name in ("_q_net", "_mlp"):  # the helpers the commit's action calls, by their names
        if hasattr(old_policy.PolicyMapper, name) and not hasattr(policy_mod.PolicyMapper, name):
            setattr(policy_mod.PolicyMapper, name, getattr(old_policy.PolicyMapper, name))
    return old_warm.WarmPath, ns["equal_risk"], old_policy.PolicyMapper.action


def _use(code) -> None:
    menus.WarmPath, menus.equal_risk, policy_mod.PolicyMapper.action = code


def _records(outcome) -> list[str]:
    return [json.dumps(r, default=str, sort_keys=True) for r in outcome.strategy.records]


def backtests(prices, old, new, start: str, repeat: int) -> list:
    factory = untrained_dqn(prices)
    cfg = load_config(None, {"strategy": "dqn", "start": start})
    calls = []
    real = warm.WarmPath.solve

    def record(self, mu, cov, **kw):
        calls.append((self.r, mu.copy(), cov.copy(), kw))
        return real(self, mu, cov, **kw)

    times: dict[str, list[float]] = {"commit": [], "tree": []}
    outs = {}
    for label, code in (("commit", old), ("tree", new)):  # first calls, untimed
        _use(code)
        run_backtest(cfg, prices, make_strategy=factory, engine="sim")
    for _ in range(repeat):
        for label, code in (("commit", old), ("tree", new)):
            _use(code)
            t0 = time.perf_counter()
            outs[label] = run_backtest(cfg, prices, make_strategy=factory, engine="sim")
            times[label].append(time.perf_counter() - t0)
    warm.WarmPath.solve = record
    try:
        run_backtest(cfg, prices, make_strategy=factory, engine="sim")
    finally:
        warm.WarmPath.solve = real
    same = (outs["commit"].strategy.returns.to_numpy().tobytes()
            == outs["tree"].strategy.returns.to_numpy().tobytes()
            and _records(outs["commit"]) == _records(outs["tree"]))
    o, n = statistics.median(times["commit"]), statistics.median(times["tree"])
    print(f"dqn + 1/N sim backtest from {start}, {len(outs['tree'].strategy.records)} decisions: "
          f"commit {o * 1e3:.0f} ms, this tree {n * 1e3:.0f} ms (medians of {repeat}), "
          f"{o / n:.2f}x; identical returns and records: {same}", flush=True)
    return calls


def solves(calls, old_warm_path, repeat: int) -> None:
    def run(kind):
        out, path = [], None
        for r, mu, cov, kw in calls:
            path = path if path is not None and path.r is r else kind(r)
            try:
                found = path.solve(mu, cov, **kw)
                out.append((None if found.min_variance is None else found.min_variance.tobytes(),
                            found.max_sharpe.tobytes(), found.beats_rf))
            except warm.PathFailed:
                out.append("failed")
        return out

    same = run(old_warm_path) == run(warm.WarmPath)
    times: dict[str, list[float]] = {"commit": [], "tree": []}
    for _ in range(repeat):
        for label, kind in (("commit", old_warm_path), ("tree", warm.WarmPath)):
            t0 = time.perf_counter()
            run(kind)
            times[label].append((time.perf_counter() - t0) / len(calls) * 1e6)
    o, n = statistics.median(times["commit"]), statistics.median(times["tree"])
    print(f"its {len(calls)} WarmPath.solve calls replayed: commit {o:.0f} us, this tree "
          f"{n:.0f} us a solve (medians of {repeat}), {o / n:.2f}x; identical weights: {same}",
          flush=True)


def whole_panel(prices, old, new) -> None:
    from autoport.envs.config import EnvConfig

    cfg = EnvConfig()
    tables = {}
    for label, code in (("commit", old), ("tree", new)):
        _use(code)
        t0 = time.perf_counter()
        tables[label] = menus.build(prices, cfg, cfg.history_needed - 1)
        print(f"menus.build over the bundled panel, {label}: {time.perf_counter() - t0:.1f} s",
              flush=True)
    print(f"{len(tables['tree'])} sessions' menus identical bytes: "
          f"{tables['commit'].tobytes() == tables['tree'].tobytes()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commit", default="42a6cf4")
    parser.add_argument("--start", default="2015-01-01")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--menus", action="store_true")
    args = parser.parse_args()
    prices = data.bundled_prices()
    new = (menus.WarmPath, menus.equal_risk, policy_mod.PolicyMapper.action)
    with tempfile.TemporaryDirectory() as folder:
        old = old_code(args.commit, Path(folder))
        calls = backtests(prices, old, new, args.start, args.repeat)
        _use(new)
        solves(calls, old[0], 2 * args.repeat)
        if args.menus:
            whole_panel(prices, old, new)
        _use(new)


if __name__ == "__main__":
    main()
