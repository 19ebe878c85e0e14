#!/usr/bin/env bash
# GPU readiness check (issue 15, item 3): lnta.bench at batch 4 and 32, on-device data, DDP on one
# device, a timed Ped2 skip-frame run then lnta.eval, torch.compile on/off and the 60-epoch estimate,
# printed as one table (also gpu_check.json and gpu_check.md in --out). See README.md beside this file.
# Usage: experiments/gpu_check/run.sh (--data ROOT | --synthetic) [--size 256] [--budget-s 240] [--out DIR] [--tiny]
#        experiments/gpu_check/run.sh subset --src ../shared/datasets/ped2 --dst data/ped2_subset
# Python: $PY, else the repo's .venv/bin/python, else python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ -z "${PY:-}" ]; then
  if [ -x "$repo/.venv/bin/python" ]; then PY="$repo/.venv/bin/python"; else PY=python3; fi
fi
exec "$PY" "$here/gpu_check.py" "$@"
