#!/usr/bin/env bash
# Set up .venv on a fresh machine: the pinned CPU torch wheel first, then the project.
# Usage: bash scripts/setup.sh [EXTRAS]     e.g. `bash scripts/setup.sh dev` for tests + LIBERO + LeRobot,
#        bash scripts/setup.sh lerobot       the project plus lerobot 0.4.4 and the lerobot_policy_sf plugin.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# The CPU wheel of torch 2.13.0; installing torch first keeps any later resolution on it.
python -m pip install -q "torch==2.13.0"
echo "torch==2.13.0" > .venv/torch-constraint.txt
case "$extras" in
  lerobot) spec="." ;;
  "") spec="." ;;
  *) spec=".[${extras}]" ;;
esac
with_lerobot=""
[ "$extras" = lerobot ] || [ "$extras" = dev ] && with_lerobot=1
if [ -z "$with_lerobot" ]; then
  python -m pip install -q -c .venv/torch-constraint.txt -e "$spec"
else
  # lerobot 0.4.4 declares torch<2.11 and torchvision<0.26: what it needs at run time is installed with the
  # project under our torch (plugins/lerobot_policy_sf/requirements.txt), then lerobot and our plugin without
  # their declared dependencies (pip then reports lerobot's pins as conflicts: expected, not printed).
  python -m pip install -q -c .venv/torch-constraint.txt -e "$spec" -r plugins/lerobot_policy_sf/requirements.txt
  python -m pip install -q --no-deps "lerobot==0.4.4" -e plugins/lerobot_policy_sf > .venv/lerobot-pip.log 2>&1 \
    || { cat .venv/lerobot-pip.log; exit 1; }
  # PyPI's torchvision for torch 2.13 imports beside the CPU build once two operator schemas are declared:
  # a one-line .pth runs that declaration just before the first `import torchvision` (sf_torchvision_ops).
  site=$(python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  echo "import sf_torchvision_ops; sf_torchvision_ops.install()" > "$site/sf_torchvision_ops.pth"
  python -c "import lerobot_policy_sf, torchvision; print('lerobot plugin ready: torchvision', torchvision.__version__)"
fi
python -c "import torch, spatial_forcing; print('ready: torch', torch.__version__)"
