"""The one module that imports MLflow: runs, provenance and (later) the model registry.

Default store: SQLite at ``$AUTOPORT_HOME/mlflow.db`` with artifacts in
``$AUTOPORT_HOME/mlartifacts`` (the registry needs a database backend). ``MLFLOW_TRACKING_URI``
overrides it, for example a tracking server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import subprocess
import sys
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path

from autoport import workspace
from autoport.errors import TrackingError

TRACKED_PACKAGES = (
    "autoport", "numpy", "pandas", "scipy", "zipline-reloaded", "exchange-calendars",
    "pyfolio-reloaded", "empyrical-reloaded", "pyportfolioopt", "cvxpy", "stable-baselines3",
    "gymnasium", "torch", "hmmlearn", "mlflow",
)


# MLflow's set_tracking_uri also exports MLFLOW_TRACKING_URI; remember what we set ourselves so
# our own default is not mistaken for a user's server.
_own_uri: str | None = None


def default_uri() -> str:
    db = workspace.checked_home() / "mlflow.db"
    return f"sqlite:///{db}"


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri and uri != _own_uri:
        return uri
    return default_uri()


# URI schemes MLflow can track to (a plain path is a local file store); "postgresql+psycopg2"
# style dialects count by their first part.
KNOWN_SCHEMES = ("", "file", "sqlite", "http", "https", "postgresql", "mysql", "mssql",
                 "databricks", "databricks-uc", "uc")
PROBE_TIMEOUT_S = 3.0


def check_reachable(hint: str = "pass --no-track") -> None:
    """Refuse a tracking URI MLflow cannot use, or a server that does not answer, in seconds.

    Called by the commands before any work, so a dead server costs a few seconds and writes
    nothing instead of MLflow's minutes of retries and a traceback. ``hint`` is the command's
    way to run without tracking.
    """
    from http.client import HTTPException
    from urllib import error, parse, request

    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri or uri == _own_uri:
        return  # our local store: nothing to reach (and nothing created before any work)
    scheme = parse.urlsplit(uri).scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter: a local path
        scheme = ""
    if scheme.split("+")[0] not in KNOWN_SCHEMES:
        raise TrackingError(
            f"MLFLOW_TRACKING_URI={uri} has a scheme ({scheme}://) MLflow cannot track to; "
            f"use http(s)://HOST:PORT of a tracking server or sqlite:///PATH.db, or {hint}"
        )
    if scheme in ("", "file"):
        from mlflow import environment_variables as mlflow_env

        opt_in = getattr(mlflow_env, "MLFLOW_ALLOW_FILE_STORE", None)  # newer MLflow refuses
        if opt_in is not None and not opt_in.get():
            raise TrackingError(
                f"MLFLOW_TRACKING_URI={uri} is a file store, which MLflow now refuses; use "
                "sqlite:///PATH.db, set MLFLOW_ALLOW_FILE_STORE=true to keep the file store, "
                f"or {hint}"
            )
        return
    if scheme.split("+")[0] in ("postgresql", "mysql", "mssql"):
        from sqlalchemy.engine import make_url

        try:
            make_url(uri).get_dialect().import_dbapi()
        except Exception as exc:  # noqa: BLE001 - a missing driver or a malformed URL
            raise TrackingError(
                f"MLFLOW_TRACKING_URI={uri} needs a database driver that is not usable here "
                f"({exc}); install that Python driver, or {hint}"
            ) from None
        return
    if scheme not in ("http", "https"):
        return
    parts = parse.urlsplit(uri)
    host = parts.netloc.rpartition("@")[2]  # credentials in the URI are not needed to probe
    probe = parse.urlunsplit((parts.scheme, host, parts.path.rstrip("/") + "/health", "", ""))
    try:
        with request.urlopen(probe, timeout=PROBE_TIMEOUT_S):
            pass
    except error.HTTPError:
        pass  # the server answered, even if not with 200: MLflow will say what is wrong
    except (OSError, ValueError, HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        shown = parse.urlunsplit(parts._replace(netloc=("***@" if "@" in parts.netloc else "")
                                                + host))
        raise TrackingError(
            f"the MLflow tracking server at {shown} (MLFLOW_TRACKING_URI) does not answer "
            f"({reason}); start it (mlflow server ...) or {hint}"
        ) from None


def _client():
    import mlflow

    # Schema-migration INFO lines on a new store are noise on a user's terminal.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Against a tracking server MLflow writes "View run ... at: URL" to stdout when a run ends,
    # which corrupts `--json` output; the commands report the run id themselves.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    # artifact downloads (a logged regime model, a DQN policy) are small: no progress bars
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    global _own_uri
    uri = tracking_uri()
    if uri == default_uri():
        _own_uri = uri
    mlflow.set_tracking_uri(uri)
    _create_store_once(uri)
    return mlflow


_stores_ready: set[str] = set()


def _create_store_once(uri: str) -> None:
    """Create (or migrate) a local SQLite store under a file lock beside it.

    MLflow builds the schema on first contact; two processes doing that at once collide
    (``table experiments already exists``). The first one under the lock builds it, the others
    then find it complete.
    """
    if uri in _stores_ready or not uri.startswith("sqlite:///"):
        return
    from filelock import FileLock, Timeout
    from mlflow.tracking import MlflowClient

    db = Path(uri[len("sqlite:///"):])
    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(db.with_name(f".{db.name}.lock")), timeout=300):
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Timeout:
        raise TrackingError(
            f"another process has held the MLflow store {db} for over 300 s; wait or stop it"
        ) from None
    _stores_ready.add(uri)


def ensure_experiment(name: str) -> str:
    """Experiment id for ``name``; local stores keep artifacts beside the database."""
    mlflow = _client()
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if tracking_uri() == default_uri():
        location = (workspace.home() / "mlartifacts").as_uri()
    try:
        return mlflow.create_experiment(name, artifact_location=location)
    except Exception as exc:
        found = mlflow.get_experiment_by_name(name)  # another process created it just now
        if found is not None:
            return found.experiment_id
        raise TrackingError(f"could not create MLflow experiment {name!r}: {exc}") from exc


COMMIT_TAG = "mlflow.source.git.commit"  # MLflow's standard tag for the code's commit
BUILD_INFO = "_build.json"  # written into the wheel by setup.py's build_py


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _repo_state(cwd: Path) -> tuple[str, str] | None:
    commit = _git(["rev-parse", "HEAD"], cwd)
    if not commit:
        return None
    dirty = _git(["status", "--porcelain"], cwd)
    return commit, "unknown" if dirty is None else str(bool(dirty)).lower()


def _build_state() -> tuple[str, str] | None:
    """The commit autoport was built from: baked into a wheel, or its own source checkout.

    The checkout counts only when git's top level is the folder holding autoport's
    pyproject.toml (an editable install), never a repository that merely contains
    site-packages.
    """
    from importlib import resources

    try:
        info = json.loads(resources.files("autoport").joinpath(BUILD_INFO).read_text())
        return str(info["commit"]), str(info.get("dirty", "unknown"))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    source = Path(__file__).resolve().parent.parent
    top = _git(["rev-parse", "--show-toplevel"], source)
    if top and Path(top).resolve() == source and (source / "pyproject.toml").is_file():
        return _repo_state(source)
    return None


def code_version(cwd: str | Path | None = None) -> dict[str, str]:
    """Which code a command runs: the commit of the project root and autoport's version.

    The commit is the one of the git work tree holding ``cwd`` (default: the current
    directory), the project the user runs in; outside any work tree it is the commit autoport
    was built from (baked into the wheel at build time, or its editable checkout). Keys:
    ``commit`` and ``dirty`` (absent when no commit is known), ``commit_source`` (``project``,
    ``build`` or ``none``) and ``version`` (the installed autoport package).
    """
    try:
        version = metadata.version("autoport")
    except metadata.PackageNotFoundError:
        version = "absent"
    out = {"version": version, "commit_source": "none"}
    for source, state in (("project", lambda: _repo_state(Path(cwd or Path.cwd()))),
                          ("build", _build_state)):
        found = state()
        if found is not None:
            out.update(commit=found[0], dirty=found[1], commit_source=source)
            break
    return out


def provenance_tags(cwd: str | Path | None = None) -> dict[str, str]:
    """Tags naming the code of a run: MLflow's commit tag (when known) and where it came from."""
    code = code_version(cwd)
    tags = {"git_dirty": code.get("dirty", "unknown"), "commit_source": code["commit_source"]}
    if "commit" in code:
        tags[COMMIT_TAG] = code["commit"]
    return tags


def package_source(folder: Path) -> Path:
    """A copy of the importable ``autoport`` package at ``folder/autoport``, the folders served
    inside it (strategies, envs, datasets, configs) included, bytecode left out.

    Logged as a model's ``code_paths``: a model whose code imports autoport then loads in an
    environment without autoport (MLflow puts the model's code folder first on ``sys.path``).
    Where autoport is already imported, the running package keeps serving every import.
    """
    import importlib.util
    import shutil

    import autoport

    dest = Path(folder) / "autoport"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for root in autoport.__path__:
        shutil.copytree(root, dest, ignore=skip, dirs_exist_ok=True)
    for sub in ("strategies", "envs", "datasets", "configs"):  # mapped folders (setup.py)
        spec = importlib.util.find_spec(f"autoport.{sub}")  # finds without importing it
        for root in (spec.submodule_search_locations or []) if spec else []:
            if Path(root).resolve() != (dest / sub).resolve():
                shutil.copytree(root, dest / sub, ignore=skip, dirs_exist_ok=True)
    return dest


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


@contextlib.contextmanager
def _ended_on_failure(mlflow) -> Iterator[None]:
    """An interrupted run (Ctrl-C, or SIGTERM, which the CLI turns into the same) ends KILLED,
    not RUNNING; a failure while logging is one ``TrackingError`` naming the store.

    Entered inside ``mlflow.start_run``, whose own exit would mark an interrupted run FAILED
    and leave an interrupt during its last write RUNNING.
    """
    try:
        yield
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            if mlflow.active_run() is not None:
                mlflow.end_run(status="KILLED")
        raise
    except TrackingError:
        raise
    except Exception as exc:
        with contextlib.suppress(Exception):
            if mlflow.active_run() is not None:
                mlflow.end_run(status="FAILED")
        raise TrackingError(
            f"could not log the run to MLflow at {tracking_uri()}: {exc}; nothing was kept "
            "(run again, or pass --no-track)"
        ) from exc


@contextlib.contextmanager
def recorded_run(
    experiment: str,
    run_name: str,
    params: Mapping[str, object],
    metrics: Mapping[str, float],
    artifacts_dir: Path | None,
    tags: Mapping[str, str] | None,
    config: Mapping[str, object] | None,
    dataset: object | None = None,
    run_id: str | None = None,
) -> Iterator:
    """An active run with provenance tags, params, finite metrics, config and artifacts.

    ``run_id``: continue that run (a sweep's parent, opened before its trials) instead of
    starting a new one.

    The price panel is logged as the run's input (see :func:`log_prices_input`). MLflow prints
    a "View run at" line on stdout when a server tracks the run; it goes to stderr here so
    ``--json`` output stays one clean object.
    """
    mlflow = _client()
    experiment_id = ensure_experiment(experiment)
    all_tags = {**provenance_tags(),
                **{f"version.{k}": v for k, v in package_versions().items()}}
    all_tags.update(tags or {})
    with contextlib.redirect_stdout(sys.stderr):
        opened = (mlflow.start_run(run_id=run_id) if run_id else
                  mlflow.start_run(experiment_id=experiment_id, run_name=run_name))
        with opened as run, _ended_on_failure(mlflow):
            if COMMIT_TAG not in all_tags and COMMIT_TAG in run.data.tags:
                # MLflow guessed a commit from the entry script's folder; ours says "none"
                mlflow.MlflowClient().delete_tag(run.info.run_id, COMMIT_TAG)
            mlflow.set_tags(all_tags)
            log_prices_input(params, dataset)
            flat = {k: str(v)[:6000] for k, v in params.items()}
            if flat:
                mlflow.log_params(flat)
            finite = {k: float(v) for k, v in metrics.items() if v is not None and v == v}
            if finite:
                mlflow.log_metrics(finite)
            if config is not None:
                mlflow.log_text(json.dumps(config, indent=2, default=str), "config.json")
            if artifacts_dir is not None and Path(artifacts_dir).exists():
                mlflow.log_artifacts(str(artifacts_dir))
            yield run


def log_prices_input(params: Mapping[str, object], frame: object | None = None) -> None:
    """Log the run's price panel as an MLflow dataset input (context ``prices``).

    Its digest is autoport's content hash (``data_hash``) and its source the ``data_source``
    param (a file, or the bundled panel); with the panel itself (``frame``, a DataFrame) MLflow
    also records its schema and shape. Runs without both params log no input.
    """
    source, digest = params.get("data_source"), params.get("data_hash")
    if not source or not digest:
        return
    import mlflow.data
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.data.sources import LocalArtifactDatasetSource

    path = Path(str(source))
    where = (LocalArtifactDatasetSource(str(path.resolve())) if path.is_file()
             else CodeDatasetSource(tags={"data_source": str(source)}))
    name = path.name if path.is_file() else str(source)
    if frame is not None:
        data = mlflow.data.from_pandas(frame, source=where, name=name, digest=str(digest))
    else:
        data = MetaDataset(where, name=name, digest=str(digest))
    mlflow.log_input(data, context="prices")


def log_run(
    experiment: str,
    *,
    run_name: str,
    params: Mapping[str, object],
    metrics: Mapping[str, float],
    artifacts_dir: Path | None = None,
    tags: Mapping[str, str] | None = None,
    config: Mapping[str, object] | None = None,
    dataset: object | None = None,
) -> str:
    """Record one finished computation as an MLflow run and return its id.

    ``dataset`` is the price panel behind ``params["data_hash"]``, logged as the run's input.
    Called after the work succeeded, so a failure upstream leaves no run behind; a failure while
    logging marks the run FAILED (MLflow's context manager does it).
    """
    with recorded_run(experiment, run_name, params, metrics, artifacts_dir, tags, config,
                      dataset) as run:
        return run.info.run_id


def log_model_run(
    experiment: str,
    *,
    run_name: str,
    params: Mapping[str, object],
    metrics: Mapping[str, float],
    curves: Mapping[str, list[tuple[int, float]]] | None = None,
    python_model: object | None = None,
    model_artifacts: Mapping[str, str] | None = None,
    pip_requirements: list[str] | None = None,
    code_paths: list[str] | None = None,
    artifacts_dir: Path | None = None,
    tags: Mapping[str, str] | None = None,
    config: Mapping[str, object] | None = None,
    dataset: object | None = None,
) -> tuple[str, str | None]:
    """Like :func:`log_run`, plus step-indexed curves and a pyfunc model under ``model``.

    ``code_paths`` are copied into the model and put on ``sys.path`` when it loads (e.g.
    :func:`package_source`, so the model loads where autoport is not installed).

    Returns ``(run_id, model_uri)`` with ``model_uri = runs:/<run_id>/model`` (None without a
    model).
    """
    import mlflow.pyfunc

    with recorded_run(experiment, run_name, params, metrics, artifacts_dir, tags, config,
                      dataset) as run:
        for key, points in (curves or {}).items():
            for step, value in points:
                if value is not None and value == value:
                    mlflow.log_metric(key, float(value), step=int(step))
        model_uri = None
        if python_model is not None:
            try:
                mlflow.pyfunc.log_model(
                    name="model", python_model=python_model,
                    artifacts=dict(model_artifacts or {}),
                    pip_requirements=pip_requirements or [],
                    code_paths=list(code_paths) if code_paths else None,
                )
            except Exception as exc:
                raise TrackingError(f"could not log the model to MLflow: {exc}") from exc
            model_uri = f"runs:/{run.info.run_id}/model"
        return run.info.run_id, model_uri


def load_pyfunc(model_uri: str):
    """Load an MLflow pyfunc model by URI (``runs:/ID/model``, ``models:/NAME@alias``)."""
    mlflow = _client()
    import mlflow.pyfunc

    try:
        return mlflow.pyfunc.load_model(model_uri)
    except Exception as exc:
        raise TrackingError(
            f"could not load model {model_uri!r} from {tracking_uri()}: {exc}. Use runs:/RUN_ID/model "
            "or models:/NAME@alias from `autoport train-agent`"
        ) from exc


def load_json_artifact(run_id: str, artifact_path: str, logged_by: str = "") -> dict:
    """A JSON artifact of a logged run (for example the regime model ``model.json``).

    ``logged_by`` names the command whose runs carry the artifact, for the error message.
    """
    mlflow = _client()
    import mlflow.artifacts

    source = f"`{logged_by}`" if logged_by else "the command that logged it"
    client = mlflow.MlflowClient(tracking_uri=tracking_uri())
    try:
        run = client.get_run(run_id)
    except Exception:
        raise TrackingError(
            f"no MLflow run {run_id!r} in {tracking_uri()}; pass a run id printed by {source} "
            "(list them with `autoport runs`)"
        ) from None
    try:
        text = mlflow.artifacts.load_text(f"runs:/{run_id}/{artifact_path}")
    except Exception:
        kind = run.data.tags.get("command") or run.info.run_name or "other"
        raise TrackingError(
            f"run {run_id} ({kind}) has no {artifact_path}; pass a run id printed by {source}"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrackingError(f"{artifact_path} of run {run_id} is not JSON: {exc}") from None


def recent_runs(experiment: str | None = None, limit: int = 20) -> list[dict[str, object]]:
    """The latest runs (newest first) of one experiment or of all, as plain dicts.

    Each dict holds ``run_id``, ``experiment``, ``run_name``, ``status``, ``start_time`` (UTC
    Timestamp), ``tags`` and ``metrics``; a name that is not an experiment is a ``TrackingError``.
    """
    import pandas as pd

    mlflow = _client()
    client = mlflow.MlflowClient(tracking_uri=tracking_uri())
    if experiment is not None:
        found = client.get_experiment_by_name(experiment)
        if found is None:
            names = sorted(e.name for e in client.search_experiments())
            raise TrackingError(
                f"no MLflow experiment named {experiment!r}; known: {', '.join(names) or 'none'}"
            )
        experiments = [found]
    else:
        experiments = list(client.search_experiments())
    if not experiments:
        return []
    names = {e.experiment_id: e.name for e in experiments}
    runs = client.search_runs(
        experiment_ids=list(names), max_results=limit, order_by=["attributes.start_time DESC"],
    )
    return [
        {
            "run_id": run.info.run_id,
            "experiment": names.get(run.info.experiment_id, run.info.experiment_id),
            "run_name": run.info.run_name or "",
            "status": run.info.status,
            "start_time": pd.Timestamp(run.info.start_time, unit="ms", tz="UTC"),
            "tags": {k: v for k, v in run.data.tags.items()
                     if not k.startswith("mlflow.") or k == COMMIT_TAG},
            "metrics": dict(run.data.metrics),
        }
        for run in runs
    ]


def log_sweep(
    experiment: str,
    *,
    run_name: str,
    params: Mapping[str, object],
    metrics: Mapping[str, float],
    trials: list[Mapping[str, object]],
    artifacts_dir: Path | None = None,
    tags: Mapping[str, str] | None = None,
    config: Mapping[str, object] | None = None,
    dataset: object | None = None,
    run_id: str | None = None,
) -> str:
    """A sweep as one parent run with a child run per trial; returns the parent's id.

    ``run_id``: the parent opened by :func:`sweep_parent` while the trials ran.

    Each trial is ``{"name", "params", "metrics", "status": "ok"|"failed", "error", "node"}``;
    a failed trial's child run ends FAILED with its error as a tag. The driver logs every run
    after the search, so trials on other Ray nodes never reach the tracking store themselves.
    """
    with recorded_run(experiment, run_name, params, metrics, artifacts_dir,
                      {**(tags or {}), "sweep.role": "parent"}, config, dataset,
                      run_id) as parent:
        for trial in trials:
            _child_run(parent, str(trial["name"]),
                       {"sweep.role": "trial", "sweep.parent": parent.info.run_id,
                        "status": str(trial["status"]),
                        **({"error": str(trial["error"])[:5000]} if trial.get("error") else {}),
                        **({"node": str(trial["node"])} if trial.get("node") else {})},
                       trial["params"], trial["metrics"], failed=trial["status"] != "ok")
        return parent.info.run_id


def log_walk_forward(
    experiment: str,
    *,
    run_name: str,
    params: Mapping[str, object],
    metrics: Mapping[str, float],
    folds: list[Mapping[str, object]],
    artifacts_dir: Path | None = None,
    tags: Mapping[str, str] | None = None,
    config: Mapping[str, object] | None = None,
    dataset: object | None = None,
) -> str:
    """A walk-forward as one parent run (the fold Sharpe distribution) with a child run per
    fold (``{"name", "params", "metrics"}``); returns the parent's id."""
    with recorded_run(experiment, run_name, params, metrics, artifacts_dir,
                      {**(tags or {}), "walkforward.role": "parent"}, config,
                      dataset) as parent:
        for fold in folds:
            _child_run(parent, str(fold["name"]),
                       {"walkforward.role": "fold", "walkforward.parent": parent.info.run_id},
                       fold["params"], fold["metrics"])
        return parent.info.run_id


def _child_run(parent, name: str, tags: Mapping[str, str], params: Mapping[str, object],
               metrics: Mapping[str, float], failed: bool = False) -> None:
    """One nested run under ``parent``: tags, params, finite metrics, FAILED if ``failed``."""
    mlflow = _client()
    with contextlib.redirect_stdout(sys.stderr):
        mlflow.start_run(run_name=name, nested=True, experiment_id=parent.info.experiment_id)
        try:
            mlflow.set_tags(dict(tags))
            flat = {k: str(v)[:6000] for k, v in dict(params).items()}
            if flat:
                mlflow.log_params(flat)
            finite = {k: float(v) for k, v in dict(metrics).items() if v is not None and v == v}
            if finite:
                mlflow.log_metrics(finite)
        finally:
            mlflow.end_run(status="FAILED" if failed else "FINISHED")


@contextlib.contextmanager
def sweep_parent(experiment: str, run_name: str,
                 tags: Mapping[str, str] | None = None) -> Iterator[str]:
    """A sweep's parent run, RUNNING while its trials run (yields its id).

    Ctrl-C ends it KILLED and any other error FAILED; children are only created after the
    search (:func:`log_sweep`), each ended as it is logged, so none is left RUNNING.
    """
    _client()
    from mlflow import MlflowClient

    client = MlflowClient()
    with contextlib.redirect_stdout(sys.stderr):
        run = client.create_run(ensure_experiment(experiment), run_name=run_name,
                                tags={**(tags or {}), "sweep.role": "parent"})
    run_id = run.info.run_id
    try:
        yield run_id
    except KeyboardInterrupt:
        client.set_terminated(run_id, "KILLED")
        raise
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    if client.get_run(run_id).info.status == "RUNNING":  # nothing was logged into it
        client.set_terminated(run_id, "FINISHED")
