"""MLflow side of promotion: read a run, log the validation run, register and move aliases.

With ``autoport.tracking`` this is the only module that imports MLflow. Aliases: ``champion``
points at the promoted version; the version it replaces keeps its number and gets ``previous``.
Registration happens only after every gate passed; if registering fails half-way, the new
version is deleted and the aliases are put back, so the registry is never left half-moved.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from autoport import tracking
from autoport.errors import TrackingError
from autoport.promotion.evaluate import RunRecord

CHAMPION = "champion"
PREVIOUS = "previous"
VALIDATION_EXPERIMENT = "promotions"
MODEL_ARTIFACT = "model"


def _mlflow():
    # no tqdm bars on stderr for the one small config.json a promotion downloads
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return tracking._client()


def _client():
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking.tracking_uri())


def _not_found(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return "RESOURCE_DOES_NOT_EXIST" in str(code) or "not found" in str(exc).lower()


# --------------------------------------------------------------------------- reading a run


def fetch_run(run_id: str) -> RunRecord:
    """Tags, params, metrics, logged config and model of ``run_id``, or a ``TrackingError``."""
    from mlflow.exceptions import MlflowException

    mlflow = _mlflow()
    client = _client()
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise TrackingError(
            f"run {run_id!r} not found in the MLflow store {tracking.tracking_uri()}; list runs "
            "with `autoport runs`"
        ) from None
    experiment = client.get_experiment(run.info.experiment_id)
    config = None
    try:
        text = mlflow.artifacts.load_text(f"runs:/{run_id}/config.json")
        config = json.loads(text)
    except (MlflowException, OSError, ValueError):
        config = None
    return RunRecord(
        run_id=run_id,
        experiment=experiment.name if experiment else "",
        run_name=run.info.run_name or "",
        tags=dict(run.data.tags),
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        config=config,
        model_uri=_run_model_uri(run),
    )


def _run_model_uri(run) -> str | None:
    """The model a run logged: an MLflow 3 logged model, else an ``MLmodel`` artifact folder."""
    mlflow = _mlflow()
    with contextlib.suppress(Exception):
        models = mlflow.search_logged_models(
            experiment_ids=[run.info.experiment_id],
            filter_string=f"source_run_id = '{run.info.run_id}'",
            output_format="list",
        )
        if models:
            return models[0].model_uri
    with contextlib.suppress(Exception):
        for item in _client().list_artifacts(run.info.run_id):
            if item.is_dir and any(
                child.path.endswith("MLmodel")
                for child in _client().list_artifacts(run.info.run_id, item.path)
            ):
                return f"runs:/{run.info.run_id}/{item.path}"
    return None


# --------------------------------------------------------------------------- the pyfunc model


MODEL_CODE = """\
# The promoted optimizer configuration, logged as an MLflow model from code (no pickle).
import mlflow

from autoport.strategies.served import ConfigStrategyModel

mlflow.models.set_model(ConfigStrategyModel())
"""


def _log_config_model(config: Mapping[str, Any]) -> str:
    """Log ``autoport.strategies.served.ConfigStrategyModel`` from code into the active run;
    return its model URI (the model is named by a string, so promotion never imports strategies).

    The config is the model's ``model_config``; loading the model needs ``autoport`` installed.
    """
    import logging
    import tempfile
    from importlib import metadata

    import mlflow.pyfunc

    requirements = [f"mlflow=={metadata.version('mlflow')}"]
    with contextlib.suppress(metadata.PackageNotFoundError):
        requirements.insert(0, f"autoport=={metadata.version('autoport')}")
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "autoport_config_model.py"
        code.write_text(MODEL_CODE)
        logger = logging.getLogger("mlflow")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                info = mlflow.pyfunc.log_model(
                    name=MODEL_ARTIFACT, python_model=str(code), model_config=dict(config),
                    pip_requirements=requirements,
                )
        finally:
            logger.setLevel(level)
    return info.model_uri


# --------------------------------------------------------------------------- validation run


@dataclass
class ValidationRun:
    run_id: str

    def log_artifacts(self, folder: Path) -> None:
        _mlflow().log_artifacts(str(folder))


@contextlib.contextmanager
def validation_run(
    *, run_name: str, tags: Mapping[str, str], params: Mapping[str, object],
    metrics: Mapping[str, float],
) -> Iterator[ValidationRun]:
    """A new run in the ``promotions`` experiment with provenance; FAILED if the body raises."""
    with tracking.recorded_run(
        VALIDATION_EXPERIMENT, run_name, params, metrics, None, tags, None
    ) as run:
        yield ValidationRun(run.info.run_id)


# --------------------------------------------------------------------------- registration


@dataclass(frozen=True)
class Registration:
    name: str
    version: str
    previous_version: str | None
    model_uri: str


def champion_version(name: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(_client().get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def register(
    name: str, *, model_uri: str | None, config: Mapping[str, Any] | None,
    tags: Mapping[str, str],
) -> Registration:
    """Register the candidate (logging the config model into the active run if needed), then
    point ``champion`` at it and ``previous`` at the old champion."""
    mlflow = _mlflow()
    client = _client()
    if model_uri is None:
        if config is None:
            raise TrackingError("nothing to register: the candidate has no model and no config")
        model_uri = _log_config_model(config)
    old = champion_version(name)
    old_previous = _alias_version(name, PREVIOUS)
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")  # and MLflow's "Successfully registered" chatter
        version = mlflow.register_model(model_uri, name, tags=dict(tags))
    try:
        if old is not None:
            client.set_registered_model_alias(name, PREVIOUS, old)
        client.set_registered_model_alias(name, CHAMPION, version.version)
    except Exception:
        _rollback(name, str(version.version), old, old_previous)
        raise
    return Registration(name, str(version.version), old, model_uri)


def _alias_version(name: str, alias: str) -> str | None:
    with contextlib.suppress(Exception):
        return str(_client().get_model_version_by_alias(name, alias).version)
    return None


def _rollback(name: str, version: str, champion: str | None, previous: str | None) -> None:
    client = _client()
    with contextlib.suppress(Exception):
        client.delete_model_version(name, version)
    for alias, target in ((CHAMPION, champion), (PREVIOUS, previous)):
        with contextlib.suppress(Exception):
            if target is None:
                client.delete_registered_model_alias(name, alias)
            else:
                client.set_registered_model_alias(name, alias, target)


def list_versions(name: str | None = None) -> list[dict[str, Any]]:
    """Every version of ``name`` (or of every registered model) with aliases and gate results."""
    from mlflow.exceptions import MlflowException

    client = _client()
    if name is not None:
        try:
            models = [client.get_registered_model(name)]
        except MlflowException:
            raise TrackingError(
                f"no registered model named {name!r}; see `autoport promote --list`"
            ) from None
    else:
        models = list(client.search_registered_models())
    rows = []
    for model in models:
        aliases: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        versions = client.search_model_versions(f"name = '{model.name}'")
        for mv in sorted(versions, key=lambda v: int(v.version), reverse=True):
            tags = dict(mv.tags or {})
            try:
                gates = json.loads(tags.get("gates", "[]"))
            except ValueError:
                gates = []
            rows.append({
                "model_name": model.name,
                "version": str(mv.version),
                "aliases": sorted(aliases.get(str(mv.version), [])),
                "created": pd.Timestamp(mv.creation_timestamp, unit="ms", tz="UTC"),
                "source_run_id": tags.get("source_run_id", mv.run_id or ""),
                "validation_run_id": tags.get("validation_run_id", ""),
                "gates_passed": tags.get("gates_passed", ""),
                "gates": gates,
                "model_uri": f"models:/{model.name}/{mv.version}",
            })
    return rows
