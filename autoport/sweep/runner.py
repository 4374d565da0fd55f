"""Run a sweep on Ray Tune: trials fan out, are scored on validation, and are judged honestly.

Ray is the one engine for anything that fans out: a local Ray started in-process by default
(sized by ``num_cpus``, nothing to start by hand), or an existing cluster by ``address``
(``auto``, ``ray://HOST:PORT``, or ``RAY_ADDRESS``). What a trial computes is handed in as
``evaluate(config_mapping, seed) -> TrialOutcome`` by the caller (the CLI), so this module
knows nothing of strategies or engines; the price panel reaches the workers once, through
Ray's object store (``tune.with_parameters``), not once per trial.

A trial runs its settings once per seed; its score is the mean of the spec's metric over
seeds (as rl-baselines3-zoo does). A trial that raises is recorded as failed with its error
and the sweep goes on. The winner's Sharpe ratio is then deflated by the number and spread of
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
OK, FAILED = "ok", "failed"


@dataclass(frozen=True)
class TrialOutcome:
    """What one run of one setting on one seed produced on the validation period."""

    metrics: dict[str, float]
    returns: pd.Series  # daily returns on the validation period


Evaluate = Callable[[dict[str, Any], int], TrialOutcome]


@dataclass(frozen=True)
class TrialResult:
    trial_id: str
    params: dict[str, Any]
    status: str  # "ok" or "failed"
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
            ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                     log_to_driver=False, configure_logging=False,
                     runtime_env={"env_vars": WORKER_ENV})
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
) -> SweepResult:
    """Search ``spec.space`` around ``base`` with ``evaluate``; needs a :func:`ray_session`.

    ``seed`` fixes the search itself (which settings are drawn); the trial seeds are the
    spec's. Ray Tune keeps its experiment state under ``storage/name``, which is what
    ``resume`` continues from.
    """
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    trainable = tune.with_parameters(_trial, base=base, seeds=list(spec.seeds),
                                     metric=spec.metric, evaluate=evaluate)
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
        tuner = tune.Tuner(
            trainable,
            param_space=tune_space(spec),
            tune_config=tune.TuneConfig(
                metric="score", mode="max", search_alg=searcher,
                num_samples=1 if spec.search is SearchAlgorithm.GRID else spec.trials,
                reuse_actors=True,  # a trial is a function call: no new worker process each
            ),
            run_config=tune.RunConfig(
                name=name, storage_path=str(storage), verbose=0,
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )
    with contextlib.redirect_stdout(sys.stderr):  # Tune's tables must not mix with --json
        grid = tuner.fit()
    trials = [_result(r, spec) for r in grid]
    ok = sorted((t for t in trials if t.status == OK),
                key=lambda t: (-t.score, repr(sorted(t.params.items()))))
    failed = sorted((t for t in trials if t.status != OK), key=lambda t: t.trial_id)
    return SweepResult(spec, tuple(ok + failed), storage / name)


def _trial(params: dict[str, Any], *, base, seeds, metric, evaluate) -> None:
    """One trial on a Ray worker: every seed, then one report to Tune."""
    import ray
    from ray import tune

    outcomes = [evaluate(apply(base, params), seed) for seed in seeds]
    scores = [float(o.metrics[metric]) for o in outcomes]
    returns = pd.concat([o.returns for o in outcomes], axis=1).mean(axis=1)
    keys = set.intersection(*(set(o.metrics) for o in outcomes))
    tune.report({
        "score": float(np.mean(scores)),
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
