#!/usr/bin/env bash
# The wheels a device machine needs for lnta beyond its image (nvidia-h200: torch, lightning, numpy,
# scipy, matplotlib, pillow, torchmetrics are there; hydra-core, omegaconf, antlr4 and kornia are not),
# at the versions installed here, for CPython 3.12 on x86-64. Run here (it needs the package registry),
# then carry the folder; see README.md beside this file.
# Usage: experiments/gpu_check/wheels.sh [DEST]   (default data/wheels, git-ignored)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${PY:-}" ]; then
  if [ -x "$repo/.venv/bin/python" ]; then PY="$repo/.venv/bin/python"; else PY=python3; fi
fi
dest=${1:-data/wheels}
mkdir -p "$dest"
pin() { "$PY" -c "from importlib.metadata import version; print('$1==' + version('$1'))"; }
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${platforms[@]}" \
  -d "$dest" "$(pin hydra-core)" "$(pin omegaconf)" "$(pin kornia)" "$(pin kornia_rs)"
# antlr4-python3-runtime (hydra's parser) is published as a source archive only: build its pure-Python wheel here
"$PY" -m pip wheel -q --no-deps -w "$dest" "$(pin antlr4-python3-runtime)"
ls -la "$dest"
du -sh "$dest"
