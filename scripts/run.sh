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
"$VENV/bin/python" -m pip install -q torch==2.13.0
"$VENV/bin/python" -m pip install -q -c constraints.txt -e .
exec "$VENV/bin/autoport" backtest --strategy mpt "$@"
