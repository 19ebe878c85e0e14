#!/usr/bin/env bash
# The pseudo_family sweep on real UCSD Ped2 at the CPU scale of conf/scale/cpu64.yaml (64x64, width 0.25,
# 3 epochs of 1000 clips), seeds 0 1 2: baseline, skip, reverse, repeat, shuffle in one multirun; patch and
# noise in a second one (their beta scaled to 64 px and the CIFAR-10 test split as intruders cannot be
# given to the other jobs); MemAE without and with skip-frame at the same scale; then the report.
# Usage (from the repo root): bash experiments/pseudo_family_cpu64/run.sh      (re-run resumes: ckpt_path=auto)
set -euo pipefail
PY=${PY:-.venv/bin/python}
PED2=$(realpath "${PED2:-../shared/datasets/ped2}")
CIFAR=$(realpath "${CIFAR:-../shared/datasets/cifar10}")        # CIFAR-10 test split: the stand-in for CIFAR-100
OUT=${OUT:-experiments/pseudo_family_cpu64/runs}
SEEDS=${SEEDS:-0,1,2}
common=(+sweep=pseudo_family +scale=cpu64 "data.root=$PED2" "seed=$SEEDS" trainer.enable_progress_bar=false)
"$PY" -m lnta.train "${common[@]}" anomaly=none,skip,reverse,repeat,shuffle "hydra.sweep.dir=$OUT/temporal"
# ++: Hydra first composes without the sweep (anomaly=none), where these keys do not exist yet
"$PY" -m lnta.train "${common[@]}" anomaly=patch,noise ++anomaly.beta=3 "++anomaly.intruder.path=$CIFAR" \
  ++anomaly.intruder.split=test "hydra.sweep.dir=$OUT/patch"
"$PY" -m lnta.train "${common[@]}" model=memae anomaly=none,skip "hydra.sweep.dir=$OUT/memae"
"$PY" -m lnta.report "$OUT" --out "$(dirname "$OUT")/report"
