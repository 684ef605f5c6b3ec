#!/usr/bin/env bash
# Set up .venv on a fresh machine: the pinned CPU torch wheel first, then the project.
# Usage: bash scripts/setup.sh [EXTRAS]     e.g. `bash scripts/setup.sh dev` for tests + LIBERO.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# The CPU wheel of torch 2.13.0; installing torch first keeps any later resolution on it.
python -m pip install -q "torch==2.13.0"
echo "torch==2.13.0" > .venv/torch-constraint.txt
if [ -n "$extras" ]; then spec=".[${extras}]"; else spec="."; fi
python -m pip install -q -c .venv/torch-constraint.txt -e "$spec"
python -c "import torch, spatial_forcing; print('ready: torch', torch.__version__)"
