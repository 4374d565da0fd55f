"""``pyproject.toml`` declares what autoport uses and nothing else (issue 17.14).

Both directions, read from the source with :mod:`ast` (not a grep): every third-party module
the package imports belongs to a declared distribution, and every declared distribution is
imported or listed in ``NOT_IMPORTED`` with the reason (also written beside it in pyproject).
"""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("autoport", "autoport_cli", "strategies", "envs")
OWN = {"autoport", "autoport_cli"}
NOT_IMPORTED = {  # declared, used without an import statement of ours
    "exchange-calendars": "a version cap on zipline-reloaded's dependency",
    "clarabel": "cvxpy solver named in autoport/optimize/solvers.py",
    "osqp": "cvxpy solver named in autoport/optimize/solvers.py",
    "scs": "cvxpy solver named in autoport/optimize/solvers.py",
    "pyarrow": "pandas.read_parquet's engine",
    "tqdm": "stable-baselines3's learn(progress_bar=True)",
    "optuna": "Ray Tune's OptunaSearch",
}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(r) for r in project["dependencies"]}


def _imported_modules() -> set[str]:
    found = set()
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - OWN - set(sys.stdlib_module_names) - {"__future__"}


@functools.cache
def _owners() -> dict[str, list[str]]:
    return packages_distributions()  # reads every installed distribution: seconds


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    owners = _owners()
    return {m: {d.lower().replace("_", "-") for d in owners.get(m, [])} for m in modules}


def test_every_imported_library_is_declared():
    declared = _declared()
    undeclared = {m: d for m, d in _distributions(_imported_modules()).items()
                  if not d & declared}
    assert undeclared == {}, f"imported but not in pyproject dependencies: {undeclared}"


def test_every_declared_library_is_imported_or_explained():
    imported = set().union(*_distributions(_imported_modules()).values())
    unused = _declared() - imported - set(NOT_IMPORTED)
    assert unused == set(), f"declared but never imported, with no reason given: {unused}"
    text = (ROOT / "pyproject.toml").read_text()
    for name in NOT_IMPORTED:  # the reason is written in pyproject too
        line = next(i for i, ln in enumerate(text.splitlines()) if ln.strip().startswith(f'"{name}'))
        context = "\n".join(text.splitlines()[max(0, line - 3):line + 1])
        assert "not imported" in context, name


def test_the_check_sees_an_undeclared_import(tmp_path):
    """The probe itself: scs (a solver) is not imported, so it is not counted as used."""
    assert "scs" not in set().union(*_distributions(_imported_modules()).values())
    assert _distributions({"yaml"})["yaml"] == {"pyyaml"}


def test_torch_is_a_range_here_and_pinned_in_constraints():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch = next(r for r in project["dependencies"] if _name(r) == "torch")
    assert "==" not in torch
    pins = (ROOT / "constraints.txt").read_text().splitlines()
    assert "torch==2.13.0" in pins
