"""README paths such as ``configs/constraints.example.yaml`` work from any folder (issue 18.10):
when the path does not exist, the copy bundled as ``autoport.configs`` is used, with a note."""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from autoport_cli.common import bundled_config
from autoport_cli.main import app


def _bundled(name: str) -> Path:
    return Path(str(resources.files("autoport.configs").joinpath(name)))


def test_a_missing_configs_path_falls_back_to_the_bundled_copy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    note = io.StringIO()
    found = bundled_config(Path("configs/stress.yaml"), Console(file=note, width=300))
    assert found == _bundled("stress.yaml") and found.is_file()
    assert "bundled copy" in note.getvalue() and "configs/stress.yaml" in note.getvalue()


def test_other_paths_are_left_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "configs" / "stress.yaml"  # the user's own file wins over the bundled one
    mine.parent.mkdir()
    mine.write_text("scenarios: []\n")
    assert bundled_config(Path("configs/stress.yaml")) == Path("configs/stress.yaml")
    for path in (Path("elsewhere/stress.yaml"), Path("configs/nothing_like_it.yaml"),
                 tmp_path / "gone" / "configs" / "stress.yaml", None):
        assert bundled_config(path) == path


def test_the_readme_optimize_line_runs_outside_the_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOPORT_HOME", str(tmp_path / "home"))
    res = CliRunner().invoke(app, [
        "optimize", "--objective", "min_variance", "--constraints",
        "configs/constraints.example.yaml", "--frontier-points", "0", "--window", "120",
        "--no-track", "--json", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "bundled copy" in res.stderr
    config = json.loads((tmp_path / "o" / "config.json").read_text())
    assert config["constraints"]["max_position"] == 0.15  # read from the bundled file
    weights = json.loads(res.stdout)["weights"]
    assert weights.get("RRC", 0.0) == 0.0 and max(weights.values()) <= 0.15 + 1e-6
