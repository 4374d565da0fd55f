#!/usr/bin/env bash
# Install autoport into ./.venv and run the main job: a monthly max-Sharpe backtest of the bundled
# S&P 500 stocks through zipline, beside 1/N and the index, logged to MLflow in ./autoport_home.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${AUTOPORT_VENV:-.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# The CPU build of torch first, so nothing pulls a CUDA build (AUTOPORT_TORCH_INDEX: another).
bash scripts/install_torch.sh "$VENV/bin/python"
"$VENV/bin/python" -m pip install -q -c constraints.txt -e .
exec "$VENV/bin/autoport" backtest --strategy mpt "$@"
