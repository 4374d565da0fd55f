#!/usr/bin/env bash
# Build a fresh virtual environment from this repository's own files, then run the whole suite.
# A dependency missing from pyproject.toml fails here, not on a user's machine.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${AUTOPORT_TEST_VENV:-.venv-test}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3
rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# The CPU build of torch first, so nothing pulls a CUDA build (AUTOPORT_TORCH_INDEX: another).
bash scripts/install_torch.sh "$VENV/bin/python"
"$VENV/bin/python" -m pip install -q -c constraints.txt ".[test]"
# Two cores: one BLAS/OpenMP thread per process avoids oversubscription (numpy, scipy and scs
# each bundle an OpenBLAS; hmmlearn and torch run faster single-threaded at these sizes).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# Run the installed package, not the source tree (checks packaging and bundled data too).
export AUTOPORT_HOME="$(mktemp -d)/autoport_home"
# The documentation site first (seconds): a broken link, a missing page or output, or a CLI
# reference that no longer renders fails here. Its code blocks run in tests/docs.
# Not --quiet: it silences the warnings that --strict counts, so a missing image passed.
NO_MKDOCS_2_WARNING=1 "$VENV/bin/mkdocs" build --strict --site-dir "$(mktemp -d)/site"
exec "$VENV/bin/pytest" -q "$@"
