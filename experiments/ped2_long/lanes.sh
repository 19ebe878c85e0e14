#!/usr/bin/env bash
# Start (or restart: every step resumes) the study's two lanes in the background, first thing in a session.
# Training runs from a frozen copy of the code at TRAIN_COMMIT (the same for every epoch of the study),
# testing from one at EVAL_COMMIT (the first with the mechanism measure); both are made from git here.
# Usage, from the repo root: bash experiments/ped2_long/lanes.sh [OUT]   (default /work/runs/ped2_long)
set -euo pipefail
TRAIN_COMMIT=207b0fb
EVAL_COMMIT=dc9b27c
OUT=$(realpath -m "${1:-/work/runs/ped2_long}")
FROZEN=${FROZEN:-$(dirname "$OUT")/frozen}
PY=${PY:-$PWD/.venv/bin/python}   # not resolved: the venv's python is a symlink
if pgrep -f "$FROZEN/run.py lane" >/dev/null; then echo "lanes already running"; exit 0; fi   # the frozen copy runs
for c in $TRAIN_COMMIT $EVAL_COMMIT; do
  if [ ! -d "$FROZEN/$c" ]; then mkdir -p "$FROZEN/$c"; git archive "$c" | tar -x -C "$FROZEN/$c"; fi
done
ln -sfn "$(realpath ../shared)" "$FROZEN/shared"   # the frozen copies find ../shared/datasets as the checkout does
cp experiments/ped2_long/run.py "$FROZEN/run.py"
mkdir -p "$OUT"
lane() {
  OMP_NUM_THREADS=1 setsid nohup "$PY" "$FROZEN/run.py" lane "$@" --out "$OUT" --data "$FROZEN/shared/datasets" \
    --code "$FROZEN/$TRAIN_COMMIT" --eval-code "$FROZEN/$EVAL_COMMIT" --recorded "$PWD/experiments/ped2_long/runs" \
    >> "$OUT/lane-${1// /}.out" 2>&1 &
}
lane "baseline 0" "skip 1" "baseline 2" "patch 0"
lane "skip 0" "baseline 1" "skip 2" "patch 1"
echo "lanes started; progress: tail $OUT/lane-*.out"
