"""Promotion from an installed wheel, run outside any checkout: the code-version gate must
know the code from the commit baked in at build time, not look for git beside site-packages."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import mlflow
import pytest

from autoport import data, tracking

ROOT = Path(__file__).resolve().parents[2]
GATES = """
test_period: {start: 2021-07-01, end: 2021-12-31}
var: {window: 60}
gates:
  - {name: drawdown_within_mandate, metric: max_drawdown, comparison: ">=", threshold: -0.35}
  - {name: data_hash_matches, metric: data_hash_match, comparison: "==", threshold: 1}
  - {name: code_version_matches, metric: code_version_match, comparison: "==", threshold: 1}
"""


def _build_options() -> tuple[list[str], dict[str, str]]:
    """Build without isolation against an installed setuptools >= 77 (pyproject's floor), found
    anywhere on the path; without one (a fresh CI venv seeds an older one), let pip isolate the
    build and fetch it."""
    found = sorted(
        (tuple(int(p) for p in d.version.split(".")[:2]), str(d.locate_file("")))
        for d in metadata.distributions() if d.metadata["Name"] == "setuptools"
    )
    if found and found[-1][0] >= (77, 0):
        return ["--no-build-isolation"], {"PYTHONPATH": found[-1][1]}
    return [], {}


def _dependency_dirs() -> list[str]:
    """The running interpreter's site-packages: the temporary venv reads its dependencies there
    (``.pth`` files included, e.g. a link to a base environment). An autoport installed there
    (editable or not) comes later on ``sys.path`` than the venv's own wheel, which the test
    checks."""
    return [d for d in site.getsitepackages() if Path(d).is_dir()]


def _run(args, cwd, env, check=True):
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.mark.slow
def test_wheel_outside_the_checkout_promotes_and_still_refuses_other_code(tmp_path):
    base_env = {k: v for k, v in os.environ.items()
                if k not in {"PYTHONPATH", "MLFLOW_TRACKING_URI", "VIRTUAL_ENV"}}
    # 1. a wheel of this checkout (build dirs in tmp, not in the tree)
    extra = tmp_path / "build.cfg"
    extra.write_text(f"[build]\nbuild_base = {tmp_path / 'build'}\n"
                     f"[bdist_wheel]\nbdist_dir = {tmp_path / 'bdist'}\n")
    wheels = tmp_path / "wheels"
    options, build_env = _build_options()
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *options, "-q", "-w", str(wheels),
          str(ROOT)], cwd=tmp_path, env={**base_env, "DIST_EXTRA_CONFIG": str(extra), **build_env})
    (wheel,) = wheels.glob("autoport-*.whl")

    # 2. a venv whose dependencies are this interpreter's, with autoport from the wheel only
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path, env=base_env)
    python = venv / "bin" / "python"
    (site,) = (venv / "lib").glob("python3*/site-packages")
    (site / "deps.pth").write_text("".join(
        f"import site; site.addsitedir({d!r})\n" for d in _dependency_dirs()))
    # --ignore-installed: the autoport visible through deps.pth (CI's own install) would make pip
    # skip the wheel as "already satisfied"; this installs it beside, without touching that one
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
          "--ignore-installed", "-q", str(wheel)], cwd=tmp_path, env=base_env)

    # 3. run from a folder outside any git work tree
    work = tmp_path / "work"
    work.mkdir()
    env = {**base_env, "AUTOPORT_HOME": str(tmp_path / "home"), "PATH": f"{venv / 'bin'}:"
           + base_env.get("PATH", "")}
    assert _run(["git", "rev-parse", "HEAD"], cwd=work, env=env, check=False).returncode != 0
    where = _run([str(python), "-c", "import autoport; print(autoport.__file__)"], work, env)
    assert where.stdout.strip().startswith(str(site))
    prices = work / "prices.csv"
    data.bundled_prices().loc["2020-06-01":"2021-12-31", ["AAPL", "JPM", "XOM", "KO"]].to_csv(
        prices)
    (work / "gates.yaml").write_text(GATES)
    autoport = str(venv / "bin" / "autoport")
    res = _run([autoport, "backtest", "--strategy", "equal_weight", "--window", "60", "--prices",
                str(prices), "--start", "2021-07-01", "--end", "2021-12-31", "--json"], work, env)
    run_id = json.loads(res.stdout)["run_id"]

    # the run names the commit the wheel was built from, and its prices as input
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}")
    run = mlflow.get_run(run_id)
    head = _run(["git", "rev-parse", "HEAD"], ROOT, base_env).stdout.strip()
    assert run.data.tags[tracking.COMMIT_TAG] == head
    assert run.data.tags["commit_source"] == "build"
    (prices_input,) = run.inputs.dataset_inputs
    assert prices_input.dataset.digest == run.data.params["data_hash"]

    res = _run([autoport, "promote", run_id, "--gates", "gates.yaml", "--name", "eq", "--json"],
               work, env)
    payload = json.loads(res.stdout)
    assert payload["promoted"] is True and payload["model_version"] == "1"
    verdicts = {g["name"]: (g["value"], g["passed"]) for g in payload["gates"]}
    assert verdicts["code_version_matches"] == (1.0, True)

    # a run made by other code is still refused
    mlflow.MlflowClient().set_tag(run_id, tracking.COMMIT_TAG, "0" * 40)
    res = _run([autoport, "promote", run_id, "--gates", "gates.yaml", "--name", "eq", "--json"],
               work, env, check=False)
    assert res.returncode == 1, res.stdout + res.stderr
    verdicts = {g["name"]: (g["value"], g["passed"]) for g in json.loads(res.stdout)["gates"]}
    assert verdicts["code_version_matches"] == (0.0, False)
    assert verdicts["data_hash_matches"] == (1.0, True)
