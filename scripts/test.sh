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
# Two phases on two cores (pytest-xdist): the tests that start Ray (marked serial by
# tests/conftest.py) cannot share the machine: a local ray.init() may attach to the cluster
# another test started, and two Rays on 2 cores starve each other's timing-sensitive tests. So
# everything else runs on both cores first, then the serial tests in one process. Both run;
# either failing fails the script. Extra arguments reach both phases; a phase they leave empty
# (pytest's exit 5) is fine unless both are. A caller's own -m picks the tests: one process.
for arg in "$@"; do
    case "$arg" in -m|-m*) exec "$VENV/bin/pytest" -q "$@" ;; esac
done
parallel=0 serial=0
"$VENV/bin/pytest" -q -n 2 --dist load -m "not serial" "$@" || parallel=$?
"$VENV/bin/pytest" -q -m serial "$@" || serial=$?
if [ "$parallel" -eq 5 ] && [ "$serial" -eq 5 ]; then exit 5; fi
if [ "$parallel" -ne 0 ] && [ "$parallel" -ne 5 ]; then exit "$parallel"; fi
if [ "$serial" -ne 5 ]; then exit "$serial"; fi
