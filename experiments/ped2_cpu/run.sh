#!/usr/bin/env bash
# The recorded reduced-scale reproduction on real UCSD Ped2 (CPU): baseline, patch and skip-frame,
# seeds 0 1 2, at the scale of conf/scale/cpu64.yaml; every epoch checkpoint is evaluated too
# (RUN/epochs.csv, for the `oracle` protocol); then the report is written.
# Usage (from the repo root): bash experiments/ped2_cpu/run.sh
set -euo pipefail
PY=${PY:-.venv/bin/python}
PED2=$(realpath "${PED2:-../shared/datasets/ped2}")
CIFAR=$(realpath "${CIFAR:-../shared/datasets/cifar10}")        # CIFAR-10 test split: the stand-in for CIFAR-100
OUT=${OUT:-experiments/ped2_cpu/runs}
SEEDS=${SEEDS:-"0 1 2"}
for seed in $SEEDS; do
  for kind in baseline patch skip; do
    run="$OUT/$kind/seed$seed"
    [ -f "$run/metrics.json" ] && continue
    extra=()
    if [ "$kind" = patch ]; then
      extra=(anomaly.beta=3 "anomaly.intruder.path=$CIFAR" anomaly.intruder.split=test)
    fi
    start=$(date +%s)
    "$PY" -m lnta.train "+experiment=ped2_$kind" +scale=cpu64 "data.root=$PED2" "seed=$seed" \
      trainer.enable_progress_bar=false "hydra.run.dir=$run" "${extra[@]}"
    "$PY" -m lnta.eval "ckpt_path=$run" trainer.enable_progress_bar=false "hydra.run.dir=$run/epochs"
    echo "$kind seed$seed $(( $(date +%s) - start )) s" | tee -a "$OUT/wall_times.txt"
  done
done
"$PY" -m lnta.report "$OUT" --out "$(dirname "$OUT")/report"
