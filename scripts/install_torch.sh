#!/usr/bin/env bash
# Install torch 2.13.0 into the environment of the given python, the CPU build by default.
#
# A plain `pip install torch==2.13.0` takes the CUDA build on Linux (several GB of nvidia-*
# packages). The CPU build is asked for by its local version, `2.13.0+cpu`: first from the
# sources pip is already configured with (a local wheel folder or mirror, so this works
# offline), then from PyTorch's CPU index. For a GPU build set AUTOPORT_TORCH_INDEX to one of
# PyTorch's CUDA indexes, e.g. https://download.pytorch.org/whl/cu128.
set -euo pipefail
PYTHON="$1"
if [ -n "${AUTOPORT_TORCH_INDEX:-}" ]; then
    "$PYTHON" -m pip install -q "torch==2.13.0" --index-url "$AUTOPORT_TORCH_INDEX"
elif ! "$PYTHON" -m pip install -q "torch==2.13.0+cpu" 2>/dev/null; then
    "$PYTHON" -m pip install -q "torch==2.13.0+cpu" --index-url https://download.pytorch.org/whl/cpu
fi
