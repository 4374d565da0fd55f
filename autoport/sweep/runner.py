"""Run a sweep on Ray Tune: trials fan out, are scored on validation, and are judged honestly.

Ray is the one engine for anything that fans out: a local Ray started in-process by default
(sized by ``num_cpus``, nothing to start by hand), or an existing cluster by ``address``
(``auto``, ``ray://HOST:PORT``, or ``RAY_ADDRESS``). What a trial computes is handed in as
``evaluate(config_mapping, seed) -> TrialOutcome`` by the caller (the CLI), so this module
knows nothing of strategies or engines; the price panel reaches the workers once, through
Ray's object store (``tune.with_parameters``), not once per trial.

A trial runs its settings once per seed; its score is the mean of the spec's metric over
seeds (as rl-baselines3-zoo does). A trial that raises is recorded as failed with its error
and the sweep goes on. A target that evaluates while it trains (the agent) is handed a
``report(step, metrics)`` callback: each call reaches Tune as an intermediate result (the mean
over the seeds so far, at the cumulative step), which is what ASHA stops trials on; a trial
ASHA stops is recorded as ``stopped`` with its partial score and never wins.

Ctrl-C: Tune saves its experiment state and returns; :func:`run_sweep` then raises
:class:`SweepInterrupted` (a ``KeyboardInterrupt``) instead of judging a partial search, and
``resume=True`` continues from that state (finished trials are kept, unfinished ones rerun). The winner's Sharpe ratio is then deflated by the number and spread of
the trials (:func:`autoport.selection.deflated_sharpe`), and PBO is computed over the
successful trials' daily validation returns (:func:`autoport.selection.backtest_overfitting`).

MLflow is not touched here: the driver logs the parent and child runs from the results, so
trials on other nodes never need to reach the tracking store.
"""

from __future__ import annotations

import base64
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autoport.errors import AutoportError, ConfigError
from autoport.selection import (
    BacktestOverfitting,
    DeflatedSharpe,
    backtest_overfitting,
    deflated_sharpe,
    sharpe_ratios,
)
from autoport.sweep.spec import SearchAlgorithm, SweepSpec, apply

# Worker processes get one BLAS thread each: Ray already uses every core for trials.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# A local Ray's workers at the driver's priority: Ray starts them at nice 15 so that a shared
# head node's own daemons stay responsive, but here the workers are the job the user waits
# for, and at nice 15 any other process on the machine starves them (on a 2-core machine
# with other jobs, trials ran 1.2-3x slower on Ray than in one process at nice 0).
LOCAL_RAY_ENV = {**WORKER_ENV, "RAY_worker_niceness": "0"}
# No workers prestarted for the first driver: ray.init waited for num_cpus of them (0.7 s of
# its 3.5-4.2 s here, and 0.5 s of CPU each), yet a sweep's trials never run in them. Tune
# gives every trial actor a runtime_env of its own (env_vars PL_DISABLE_FORK, set in
# ray/tune/execution/class_cache.py), prestarted workers carry none, and a worker that ran a
# task is never handed to an actor (both seen by pid with Ray 2.60), so each trial actor
# starts a process of its own either way. Walk-forward's fold tasks start their workers on
# demand instead of during ray.init. Only the local Ray: a cluster keeps its own settings.
LOCAL_RAY_CONFIG = {"prestart_worker_first_driver": False}
# Each trial's result.json and progress.csv, without the TensorBoard logger Tune adds by
# default (importing tensorboardX took 3.6 s of the driver's start, #14 item 6). Named through
# Tune's RAY_TUNE_CALLBACKS (in its TUNE_ENV_VARS), not RunConfig(callbacks=...): for callbacks
# passed there Tune's usage tagging (ray/air/_internal/usage.py, _count_callbacks) imports its
# MLflow, W&B, Comet and Aim integrations, mlflow itself included: 0.75-0.85 s of the
# driver's CPU before the first trial actor is asked for.
TUNE_LOGGERS = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_TUNE_CALLBACKS": "ray.tune.logger.JsonLoggerCallback,ray.tune.logger.CSVLoggerCallback",
}
OK, FAILED, STOPPED = "ok", "failed", "stopped"


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during the search: Tune saved its state; ``--resume`` continues it."""

    def __init__(self, path: Path, done: int, total: int) -> None:
        super().__init__(f"sweep interrupted after {done} of {total} trials; its state is "
                         f"saved in {path}: run the same command with --resume to continue")
        self.path = path


@dataclass(frozen=True)
class TrialOutcome:
    """What one run of one setting on one seed produced on the validation period."""

    metrics: dict[str, float]
    returns: pd.Series  # daily returns on the validation period


Evaluate = Callable[..., TrialOutcome]  # (config, seed[, report]) -> TrialOutcome
Report = Callable[[int, dict[str, float]], None]  # (step within the seed, metrics so far)


@dataclass(frozen=True)
class TrialResult:
    trial_id: str
    params: dict[str, Any]
    status: str  # "ok", "failed", or "stopped" (early, by ASHA: a partial score)
    score: float  # the spec's metric, mean over seeds (NaN when failed)
    seed_scores: tuple[float, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)  # each metric's mean over seeds
    returns: pd.Series | None = None  # mean over seeds of the daily validation returns
    error: str | None = None
    node: str | None = None


@dataclass(frozen=True)
class SweepResult:
    spec: SweepSpec
    trials: tuple[TrialResult, ...]  # best first, failed last
    storage: Path

    @property
    def succeeded(self) -> tuple[TrialResult, ...]:
        return tuple(t for t in self.trials if t.status == OK)

    @property
    def winner(self) -> TrialResult:
        if not self.succeeded:
            errors = "; ".join(sorted({t.error or "?" for t in self.trials}))[:500]
            raise AutoportError(f"every trial of the sweep failed: {errors}")
        return self.succeeded[0]

    def deflated_sharpe(self) -> DeflatedSharpe:
        """The winner's daily validation Sharpe ratio deflated by every successful trial's."""
        trials = np.array([sharpe_ratios(t.returns.to_numpy()[:, None])[0]
                           for t in self.succeeded])
        return deflated_sharpe(self.winner.returns.to_numpy(), trials)

    def overfitting(self, n_blocks: int = 16) -> BacktestOverfitting | None:
        """PBO over the successful trials' validation returns (None with fewer than two)."""
        ok = self.succeeded
        if len(ok) < 2:
            return None
        matrix = pd.concat([t.returns for t in ok], axis=1).dropna()
        blocks = min(n_blocks, 2 * (len(matrix) // 4))  # at least 2 periods a block
        return backtest_overfitting(matrix.to_numpy(), n_blocks=max(blocks, 2))

    def leaderboard(self) -> pd.DataFrame:
        rows = []
        for rank, t in enumerate(self.trials, start=1):
            rows.append({"rank": rank if t.status == OK else None, "trial_id": t.trial_id,
                         "status": t.status, self.spec.metric: t.score,
                         **{f"param.{k}": v for k, v in t.params.items()},
                         **{f"seed_{i}": s for i, s in enumerate(t.seed_scores)},
                         "node": t.node, "error": t.error})
        return pd.DataFrame(rows)


def tune_space(spec: SweepSpec) -> dict[str, Any]:
    """The spec's space as Ray Tune distributions, keyed by the dotted config paths."""
    from ray import tune

    out = {}
    for path, dim in spec.space.items():
        value = getattr(dim, dim.kind)
        out[path] = {
            "choice": lambda v: tune.choice(list(v)),
            "grid": lambda v: tune.grid_search(list(v)),
            "uniform": lambda v: tune.uniform(*v),
            "loguniform": lambda v: tune.loguniform(*v),
            "integer": lambda v: tune.randint(v[0], v[1] + 1),  # Ray's upper bound is exclusive
        }[dim.kind](value)
    return out


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None):
    """A Ray connection for the sweep: a fresh local one, or the cluster at ``address``."""
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        _check_reachable(address)
    if ray.is_initialized():  # someone (a notebook, a test) already chose the cluster
        yield
        return
    # Ray puts the driver's current folder first on every worker's sys.path: started from a
    # checkout, workers would import the source tree's `autoport` (where the strategies are not
    # mapped in) instead of the installed one. Start it from an empty folder instead.
    here = os.getcwd()
    os.chdir(tempfile.mkdtemp(prefix="autoport-ray-"))
    try:
        if address:
            ray.init(address=address, log_to_driver=False, configure_logging=False,
                     runtime_env={"env_vars": WORKER_ENV})
        else:
            # the node's processes inherit the driver's environment, and every worker theirs:
            # no runtime environment to build for each worker (the agent's round trip)
            with _environ(LOCAL_RAY_ENV):
                ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                         log_to_driver=False, configure_logging=False,
                         _system_config=LOCAL_RAY_CONFIG)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "a local Ray"
        raise ConfigError(
            f"cannot start or reach Ray at {where} ({str(exc).splitlines()[0][:200]}); "
            "check --address / RAY_ADDRESS, or drop it to run on this machine"
        ) from None
    finally:
        os.chdir(here)
    try:
        yield
    finally:
        ray.shutdown()


@contextmanager
def _environ(values: dict[str, str]):
    """``values`` in ``os.environ`` for the block only (a process started in it keeps them)."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _check_reachable(address: str, timeout: float = 3.0) -> None:
    """Fail in seconds on a dead HOST:PORT (Ray itself waits minutes for its GCS)."""
    import socket

    if address == "auto":
        return  # Ray finds the local cluster's address file, or says at once there is none
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"Ray address {address!r} must be auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(
            f"cannot reach Ray at {address} ({exc.strerror or exc}); start the cluster "
            "(ray start --head) or check --address / RAY_ADDRESS, or drop it to run locally"
        ) from None


def run_sweep(
    spec: SweepSpec,
    base: dict[str, Any],
    evaluate: Evaluate,
    *,
    storage: Path,
    name: str,
    seed: int = 0,
    resume: bool = False,
    max_steps: int | None = None,
) -> SweepResult:
    """Search ``spec.space`` around ``base`` with ``evaluate``; needs a :func:`ray_session`.

    ``seed`` fixes the search itself (which settings are drawn); the trial seeds are the
    spec's. Ray Tune keeps its experiment state under ``storage/name``, which is what
    ``resume`` continues from. ``max_steps``: a trial's steps over all its seeds, for ASHA
    (``scheduler: asha``; ``evaluate`` then takes the ``report`` callback).
    """
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    intermediate = spec.scheduler is not None
    trainable = tune.with_parameters(_trial, base=base, seeds=list(spec.seeds),
                                     metric=spec.metric, evaluate=evaluate,
                                     intermediate=intermediate, horizon=max_steps)
    storage = Path(storage).resolve()
    if resume:
        path = storage / name
        if not tune.Tuner.can_restore(str(path)):
            raise ConfigError(f"no sweep state to resume at {path}; run without --resume")
        tuner = tune.Tuner.restore(str(path), trainable=trainable, resume_errored=False)
    else:
        if spec.search is SearchAlgorithm.OPTUNA:
            from ray.tune.search.optuna import OptunaSearch

            searcher = OptunaSearch(metric="score", mode="max", seed=seed)
        else:
            searcher = BasicVariantGenerator(random_state=seed)
        scheduler = None
        if intermediate:
            from ray.tune.schedulers import ASHAScheduler

            if not max_steps:
                raise ConfigError("scheduler: asha needs the trials' step budget")
            # rungs in environment steps summed over seeds: trials are compared at equal work
            scheduler = ASHAScheduler(time_attr="steps", max_t=max_steps,
                                      grace_period=max(1, max_steps // 9), reduction_factor=3)
        tuner = tune.Tuner(
            trainable,
            param_space=tune_space(spec),
            tune_config=tune.TuneConfig(
                metric="score", mode="max", search_alg=searcher, scheduler=scheduler,
                num_samples=1 if spec.search is SearchAlgorithm.GRID else spec.trials,
                reuse_actors=True,  # a trial is a function call: no new worker process each
            ),
            run_config=tune.RunConfig(
                name=name, storage_path=str(storage), verbose=0,
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )
    quiet_loggers = _environ(TUNE_LOGGERS)
    with contextlib.redirect_stdout(sys.stderr), quiet_loggers:  # tables must not mix with --json
        grid = tuner.fit()
    # Tune caught Ctrl-C, saved its state and returned early: the state this fit saved marks
    # trials still RUNNING, or trials that never reported came back without a result or an error
    never_reported = sum(1 for r in grid if r.error is None and not r.metrics)
    unfinished = max(_unfinished(storage / name), never_reported)
    if unfinished:
        raise SweepInterrupted(storage / name, len(grid) - unfinished, len(grid))
    trials = [_result(r, spec) for r in grid]
    stopped = sorted((t for t in trials if t.status == STOPPED),
                     key=lambda t: (-t.score, t.trial_id))
    trials = [t for t in trials if t.status != STOPPED]
    ok = sorted((t for t in trials if t.status == OK),
                key=lambda t: (-t.score, repr(sorted(t.params.items()))))
    failed = sorted((t for t in trials if t.status != OK), key=lambda t: t.trial_id)
    return SweepResult(spec, tuple(ok + stopped + failed), storage / name)


def _unfinished(path: Path) -> int:
    """Trials not finished in Tune's newest experiment state (what a resume reruns).

    After Ctrl-C Tune returns normally and its in-memory trials all look ended; the state it
    saved just before (the one ``resume`` reads) still marks the interrupted ones RUNNING.
    The newest state is the one with the latest name (``experiment_state-<session start>``),
    the rule ``Tuner.restore`` itself follows, not the latest file time: a resumed fit copies
    the interrupted session's state back into the folder at every save, so that stale file's
    time is as recent as the new one's and, about half the time, later (#14 item 7)."""
    import json

    states = sorted(path.glob("experiment_state-*.json"), key=lambda p: p.name)
    if not states:
        return 0
    trials = json.loads(states[-1].read_text()).get("trial_data", [])
    status = [(json.loads(t[0]) if isinstance(t[0], str) else t[0]).get("status")
              for t in trials]
    return sum(s not in ("TERMINATED", "ERROR") for s in status)


def _trial(params: dict[str, Any], *, base, seeds, metric, evaluate, intermediate=False,
           horizon=None) -> None:
    """One trial on a Ray worker: every seed, then one report to Tune (and, for a target
    that evaluates while training, one intermediate report per evaluation before the
    ``horizon``: at it ASHA would stop the trial before its final report)."""
    import ray
    from ray import tune

    config = apply(base, params)
    outcomes: list[TrialOutcome] = []
    steps = {"before": 0, "now": 0}  # steps of the finished seeds, and of the current one
    for seed in seeds:
        if intermediate:
            def report(step: int, metrics: dict[str, float]) -> None:
                steps["now"] = step
                if horizon is not None and steps["before"] + step >= horizon:
                    return  # the last evaluation: the final report follows
                so_far = [float(o.metrics[metric]) for o in outcomes] + [float(metrics[metric])]
                tune.report({"score": float(np.mean(so_far)),
                             "steps": steps["before"] + step, "partial": True})

            outcomes.append(evaluate(config, seed, report))
            steps["before"] += steps["now"]
        else:
            outcomes.append(evaluate(config, seed))
    scores = [float(o.metrics[metric]) for o in outcomes]
    returns = pd.concat([o.returns for o in outcomes], axis=1).mean(axis=1)
    keys = set.intersection(*(set(o.metrics) for o in outcomes))
    tune.report({
        "score": float(np.mean(scores)),
        "steps": steps["before"],
        "partial": False,
        "seed_scores": scores,
        "metrics": {k: float(np.mean([o.metrics[k] for o in outcomes])) for k in sorted(keys)},
        # one string each (base64 of the raw arrays): Tune's loggers keep strings as they are
        "returns": _pack(returns.to_numpy(dtype=float)),
        "dates": _pack(returns.index.asi8),
        # IP and node id: several nodes of one cluster may share a machine
        "node": f"{ray.util.get_node_ip_address()}/{ray.get_runtime_context().get_node_id()[:8]}",
    })


def _result(r, spec: SweepSpec) -> TrialResult:
    trial_id = Path(r.path).name if r.path else "?"
    params = {k: _plain(r.config[k]) for k in spec.space if k in (r.config or {})}
    m = r.metrics or {}
    if r.error is None and m.get("partial"):
        return TrialResult(trial_id, params, STOPPED, float(m["score"]),
                           error=f"stopped by ASHA after {m.get('steps')} steps",
                           node=m.get("node"))
    if r.error is not None or "score" not in m:
        message = str(r.error).strip().splitlines()[-1] if r.error else "no result reported"
        return TrialResult(trial_id, params, FAILED, float("nan"), error=message[:300],
                           node=m.get("node"))
    returns = pd.Series(_unpack(m["returns"], np.float64),
                        index=pd.DatetimeIndex(_unpack(m["dates"], np.int64)), name=trial_id)
    return TrialResult(trial_id, params, OK, float(m["score"]), tuple(m["seed_scores"]),
                       dict(m["metrics"]), returns, None, m.get("node"))


def _pack(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values).tobytes()).decode("ascii")


def _unpack(text: str, dtype) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
