#!/usr/bin/env bash
# Issue 15, items 1-2, in one go on an idle machine: lnta.bench at 256², its --trials and --profile,
# and the paired timing against the authors' code (run.py). Everything goes to one folder.
# Usage: bash experiments/authors_timing/run_all.sh [OUT] [--tiny]
#   OUT     default outputs/speed-<UTC date-time>
#   --tiny  a smoke run of every stage at tiny sizes (bench/trials/profile 32x32 width 0.125, paired 64²)
# Python: $PY, else the repo's .venv/bin/python, else python3. The authors' clone and Python: $CLONE
# (default /work/scratch/ref) and $AUTHORS_PY (default $CLONE/.venv/bin/python). Optional: $TRIALS (the
# --trials list, default all) and $PAIRED_ARGS (more run.py options, e.g. "--precisions fast").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ -z "${PY:-}" ]; then
  if [ -x "$repo/.venv/bin/python" ]; then PY="$repo/.venv/bin/python"; else PY=python3; fi
fi
CLONE=${CLONE:-/work/scratch/ref}
AUTHORS_PY=${AUTHORS_PY:-$CLONE/.venv/bin/python}
out="" tiny=0
for arg in "$@"; do
  case "$arg" in
    --tiny) tiny=1 ;;
    -*) echo "error: unknown option $arg (expected [OUT] [--tiny])" >&2; exit 2 ;;
    *) out=$arg ;;
  esac
done
out=${out:-$repo/outputs/speed-$(date -u +%Y%m%d-%H%M)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$repo"
jpegs=$(cd "$repo/.." && pwd)/shared/datasets/ped2/training/frames/01
if [ "$tiny" = 1 ]; then
  size=(--size 32 --width 0.125 --repeats 1 --eval-batch 2 --matmul-n 64)
  bench=(--quick "${size[@]}" --loader-batches 2 --workers 1)
  trials="train:fast,eval:fast+jit_freeze"   # torch.compile takes minutes even at tiny sizes
  trial_size=("${size[@]}")
  profile=("${size[@]}")
  paired=(--tiny --exact-methods baseline)
else
  bench=()
  trials=${TRIALS:-all}
  trial_size=()
  profile=(--repeats 1)
  paired=(--exact-methods baseline)
fi
[ -d "$jpegs" ] && bench+=(--jpeg-dir "$jpegs")

if ! "$PY" -c 'import torch, lnta' 2> /dev/null; then
  echo "error: PY=$PY cannot import torch and lnta; set PY to the Python of lnta's environment" >&2; exit 2
fi
{ date -u; echo "python: $PY"; "$PY" -c 'import torch; print("torch", torch.__version__, torch.backends.cpu.get_cpu_capability())'
  nproc; uptime; lscpu; } > "$out/machine.txt" 2>&1 || true
stage() {  # stage NAME COMMAND...: run, log, and time it
  local name=$1; shift
  local t0=$SECONDS
  echo "$(date -u +%H:%M:%S) $name" | tee -a "$out/stages.txt"
  "$@" > "$out/$name.txt" 2>&1 || { echo "error: stage $name failed; see $out/$name.txt" >&2; tail -n 20 "$out/$name.txt" >&2; exit 1; }
  echo "  $name: $((SECONDS - t0)) s" | tee -a "$out/stages.txt"
}
stage bench "$PY" -m lnta.bench "${bench[@]}" --out "$out/bench.json"
stage trials "$PY" -m lnta.bench --trials "$trials" "${trial_size[@]}" --out "$out/trials.json"
stage profile "$PY" -m lnta.bench --profile "${profile[@]}" --out "$out/profile.json"
# shellcheck disable=SC2086  # PAIRED_ARGS: extra run.py options, word-split on purpose
stage paired "$PY" "$here/run.py" "${paired[@]}" ${PAIRED_ARGS:-} --clone "$CLONE" --authors-python "$AUTHORS_PY" --out "$out/paired"
echo "done: $out (bench.txt, trials.md, profile.md, paired/results.md; stages.txt has the durations)"
