"""Provenance of a run: the project's commit under MLflow's standard tag, the prices as input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import mlflow

from autoport import data, tracking


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_commit_comes_from_the_project_root_the_user_runs_in(tmp_path):
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    _git(project, "init", "-q")
    (project / "notes.txt").write_text("x")
    _git(project, "add", "notes.txt")
    _git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    head = _git(project, "rev-parse", "HEAD")

    code = tracking.code_version(project / "sub")
    assert (code["commit"], code["dirty"], code["commit_source"]) == (head, "false", "project")
    (project / "new.txt").write_text("y")
    assert tracking.code_version(project)["dirty"] == "true"
    tags = tracking.provenance_tags(project)
    assert tags[tracking.COMMIT_TAG] == head and tags["commit_source"] == "project"


def test_outside_git_the_build_commit_stands_in(tmp_path):
    # an editable install reads its checkout's HEAD, an installed wheel the commit baked in at
    # build time: either way the tests' own checkout
    code = tracking.code_version(tmp_path)
    checkout = _git(Path(__file__).resolve().parents[2], "rev-parse", "HEAD")
    assert (code["commit"], code["commit_source"]) == (checkout, "build")
    assert code["version"] == "0.1.0"


def test_prices_are_logged_as_the_run_input(home, tmp_path):
    prices = data.bundled_prices().iloc[-60:, :3]
    path = tmp_path / "p.csv"
    prices.to_csv(path)
    digest = data.content_hash(prices)
    with_frame = tracking.log_run("t", run_name="a", metrics={}, dataset=prices,
                                  params={"data_source": str(path), "data_hash": digest})
    bundled = tracking.log_run("t", run_name="b", metrics={},
                               params={"data_source": "bundled:sp500_dataset",
                                       "data_hash": "0123456789abcdef"})
    without = tracking.log_run("t", run_name="c", metrics={}, params={"seed": 1})

    mlflow.set_tracking_uri(tracking.tracking_uri())
    (first,) = mlflow.get_run(with_frame).inputs.dataset_inputs
    assert (first.dataset.digest, first.dataset.name) == (digest, "p.csv")
    assert [(t.key, t.value) for t in first.tags] == [("mlflow.data.context", "prices")]
    assert '"num_rows": 60' in first.dataset.profile and "AAPL" in first.dataset.schema
    assert str(path) in first.dataset.source
    (second,) = mlflow.get_run(bundled).inputs.dataset_inputs
    assert second.dataset.digest == "0123456789abcdef"
    assert "bundled:sp500_dataset" in second.dataset.source
    assert mlflow.get_run(without).inputs.dataset_inputs == []
    run = mlflow.get_run(without)
    assert run.data.tags[tracking.COMMIT_TAG] == tracking.code_version()["commit"]


def test_no_commit_known_leaves_no_commit_tag(home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tracking, "_build_state", lambda: None)
    run_id = tracking.log_run("t", run_name="a", metrics={}, params={})
    mlflow.set_tracking_uri(tracking.tracking_uri())
    tags = mlflow.get_run(run_id).data.tags
    # not even the commit MLflow would guess from the entry script's folder
    assert tracking.COMMIT_TAG not in tags
    assert (tags["commit_source"], tags["git_dirty"]) == ("none", "unknown")
