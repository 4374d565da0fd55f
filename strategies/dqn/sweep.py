"""The sweep target of the DQN allocator (`autoport sweep`, target train-agent): a trial trains
the agent once per seed (lives beside the agent: the sweep runner in the core knows no strategy).

The agent keeps its protocol (``configs/dqn.yaml``: train to 2014, validation 2015-2017, test
2018 on). A trial's score is the validation metric of the checkpoint the training itself
selects (success rate, ties broken by the mean Sharpe over 1/N); the test period is not even
evaluated in a trial (``train(evaluate_test=False)``). The evaluations the agent makes while
training (every ``validation.eval_freq`` steps) reach Ray Tune as intermediate results, which
is what ASHA stops the weaker trials on.

The decision menus (every session's menu of allocations, the slow part of a first training)
are built once by the driver and handed to the workers with the prices.

After the search, the chosen settings are trained once more per spec seed with the test period
evaluated: those figures, beside max Sharpe, min variance and 1/N on the same episodes, are the
only test figures the sweep reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autoport.sweep.runner import Report, SweepResult, TrialOutcome, run_sweep
from autoport.sweep.spec import SweepSpec, apply, check_space

# what a trial reports from the validation figures of its selected checkpoint
AGENT_REPORTED = ("success_rate", "mean_excess_sharpe")


@dataclass(frozen=True)
class AgentSweep:
    """The search, the chosen settings, and their one look at the test period per seed."""

    result: SweepResult
    chosen: dict[str, Any]  # the agent config (a mapping accepted by train-agent --config)
    test: list[dict[str, Any]]  # one evaluate_policy result per spec seed (test period)

    def params(self) -> dict[str, Any]:
        spec = self.result.spec
        return {"target": spec.target.value, "metric": spec.metric, "search": spec.search.value,
                "trials": spec.trials, "seeds": list(spec.seeds),
                "scheduler": spec.scheduler or "none",
                **{f"chosen.{k}": v for k, v in self.result.winner.params.items()}}

    def metrics(self) -> dict[str, float]:
        dsr = self.result.deflated_sharpe()
        pbo = self.result.overfitting()
        trials = self.result.trials
        t = self.test
        out = {f"validation_{self.result.spec.metric}": self.result.winner.score,
               "deflated_sharpe": dsr.dsr,
               "n_trials_ok": len(self.result.succeeded),
               "n_trials_stopped": sum(x.status == "stopped" for x in trials),
               "n_trials_failed": sum(x.status == "failed" for x in trials),
               "test_success_rate": float(np.mean([r["success_rate"] for r in t])),
               "test_sharpe": float(np.mean([r["sharpe"] for r in t])),
               "test_max_drawdown": float(np.mean([r["max_drawdown"] for r in t])),
               "target_success_rate": t[0]["target_success_rate"]}
        for name, figures in t[0]["baselines"].items():  # the same episodes for every seed
            out[f"test_{name}_success_rate"] = figures["success_rate"]
            out[f"test_{name}_sharpe"] = figures["sharpe"]
        if pbo is not None:
            out["pbo"] = pbo.pbo
        return out


def agent_config(mapping: dict[str, Any], source: str):
    from autoport.strategies.dqn.config import parse_config

    return parse_config(mapping, source)


def check_agent_spec(spec: SweepSpec, base: dict[str, Any]) -> None:
    """Refuse before Ray starts: a searched key the agent config lacks, or a bad value."""
    agent_config(base, "the spec's base config")
    check_space(spec, base, lambda mapping: agent_config(mapping, "base config"))


def agent_periods(base: dict[str, Any]) -> dict[str, tuple]:
    """The protocol's periods (training from the first date, test to the last when open)."""
    p = agent_config(base, "the spec's base config").protocol
    return {"training": (None, p.train_end), "validation": (p.validation_start, p.validation_end),
            "test": (p.test_start, p.test_end)}


def max_steps(spec: SweepSpec, base: dict[str, Any]) -> int:
    """A trial's largest step budget over all its seeds (ASHA's max_t)."""
    dim = spec.space.get("timesteps")
    budget = agent_config(base, "base config").timesteps
    if dim is not None:
        values = getattr(dim, dim.kind)
        budget = int(max(values))
    return budget * len(spec.seeds)


def agent_trial(
    config: dict[str, Any], seed: int, report: Report | None = None, *,
    prices: pd.DataFrame, menus: dict | None = None,
) -> TrialOutcome:
    """Train once with ``seed``; report every validation evaluation's best-so-far figures."""
    from autoport.envs import menus as menu_cache
    from autoport.strategies.dqn.train import train

    if menus:
        menu_cache.install(menus)
    cfg = agent_config({**config, "seed": seed}, "trial settings")
    best: dict[str, float] = {}

    def on_eval(point: dict[str, float]) -> None:
        # the checkpoint train() keeps: success rate first, then the mean Sharpe over 1/N
        if not best or (point["success_rate"], point["mean_excess_sharpe"]) > (
                best["success_rate"], best["mean_excess_sharpe"]):
            best.update({k: float(point[k]) for k in AGENT_REPORTED})
        if report is not None:
            report(int(point["step"]), dict(best))

    result = train(prices, cfg, on_eval=on_eval, evaluate_test=False)
    v = result.validation
    return TrialOutcome({k: float(v[k]) for k in AGENT_REPORTED}, v["returns"])


def shared_menus(base: dict[str, Any], prices: pd.DataFrame) -> dict:
    """The base settings' menu table of the panel, built (or read from disk) once here."""
    from autoport.envs import menus as menu_cache

    menu_cache.table(prices, agent_config(base, "base config").env)
    return menu_cache.held()


def sweep_agent(
    spec: SweepSpec,
    base: dict[str, Any],
    prices: pd.DataFrame,
    *,
    storage: Path,
    name: str,
    seed: int = 0,
    resume: bool = False,
) -> AgentSweep:
    """Search on validation (needs a :func:`autoport.sweep.runner.ray_session`), then train the
    chosen settings once per spec seed and read their test figures, once."""
    from autoport.strategies.dqn.train import train

    check_agent_spec(spec, base)
    evaluate = partial(agent_trial, prices=prices, menus=shared_menus(base, prices))
    result = run_sweep(spec, base, evaluate, storage=storage, name=name, seed=seed,
                       resume=resume, max_steps=max_steps(spec, base))
    chosen = apply(base, result.winner.params)
    test = [train(prices, agent_config({**chosen, "seed": s}, "chosen settings")).test
            for s in spec.seeds]
    return AgentSweep(result, chosen, test)
