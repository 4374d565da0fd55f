"""The import graph is one way: ``autoport_cli → strategies / envs → core`` (DESIGN.md).

Read from the source with ``ast`` (imports inside functions count too), so a back-import
anywhere, even a lazy one, fails here rather than in a reviewer's head.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ABOVE_CORE = ("autoport.strategies", "autoport.envs", "autoport_cli")
ABOVE_STRATEGIES = ("autoport_cli",)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for name in sorted(_imports(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize(("folder", "forbidden"), [
    ("autoport", ABOVE_CORE),
    ("strategies", ABOVE_STRATEGIES),
    ("envs", ABOVE_STRATEGIES),
])
def test_no_layer_imports_a_layer_above_it(folder, forbidden):
    assert _offenders(folder, forbidden) == []


def test_the_check_sees_a_back_import(tmp_path, monkeypatch):
    """The scanner itself: a lazy import inside a function is found."""
    module = tmp_path / "autoport" / "sneaky.py"
    module.parent.mkdir()
    module.write_text("def f():\n    from autoport.strategies import make_strategy\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert _offenders("autoport", ABOVE_CORE) == [
        "autoport/sneaky.py imports autoport.strategies",
        "autoport/sneaky.py imports autoport.strategies.make_strategy",
    ]
