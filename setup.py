"""Package discovery: the core's sub-packages are found, the generic top-level folders mapped.

``strategies/``, ``envs/``, ``data/`` and ``configs/`` are served as ``autoport.strategies``,
``autoport.envs``, ``autoport.datasets`` and ``autoport.configs`` so that generic names never
land in site-packages. A wheel also carries the commit it was built from (``BuildWithCommit``).
Everything else lives in pyproject.toml.
"""

import json
import subprocess
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

MAPPED = {
    "autoport.strategies": "strategies",
    "autoport.envs": "envs",
    "autoport.datasets": "data",
    "autoport.configs": "configs",
}
core = find_packages(include=["autoport", "autoport.*", "autoport_cli", "autoport_cli.*"])
nested = [f"{pkg}.{sub}" for pkg, folder in MAPPED.items() for sub in find_packages(folder)]
nested_dirs = {
    f"{pkg}.{sub}": f"{folder}/{sub.replace('.', '/')}"
    for pkg, folder in MAPPED.items()
    for sub in find_packages(folder)
}



def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=Path(__file__).parent, capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


class BuildWithCommit(build_py):
    """Bake the commit a wheel is built from into ``autoport/_build.json``: an installed wheel
    has no git of its own, and promotion's code-version gate needs to know what code it runs."""

    def run(self) -> None:
        super().run()
        commit = _git("rev-parse", "HEAD")
        if commit and not self.editable_mode:
            dirty = _git("status", "--porcelain")
            target = Path(self.build_lib) / "autoport" / "_build.json"
            target.write_text(json.dumps({
                "commit": commit, "dirty": "unknown" if dirty is None else str(bool(dirty)).lower(),
            }))


setup(
    packages=core + list(MAPPED) + nested,
    package_dir={**MAPPED, **nested_dirs},
    cmdclass={"build_py": BuildWithCommit},
)
