"""Package discovery: the core's sub-packages are found, the generic top-level folders mapped.

``strategies/``, ``envs/``, ``data/`` and ``configs/`` are served as ``autoport.strategies``,
``autoport.envs``, ``autoport.datasets`` and ``autoport.configs`` so that generic names never
land in site-packages. Everything else lives in pyproject.toml.
"""

from setuptools import find_packages, setup

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

setup(
    packages=core + list(MAPPED) + nested,
    package_dir={**MAPPED, **nested_dirs},
)
