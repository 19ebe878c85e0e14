"""The long-budget Ped2 study (issue 21): baseline vs skip-frame (and patch), 20 epochs, every epoch tested.

Settings: real UCSD Ped2, 64x64 frames, full-width AE, batch 4, Adam 1e-4, ``precision=fast``, full epochs
(2310 clips, 577 steps), p = 0.2, s in {2,3,4,5}; patch: alpha 0.5, beta 10, the CIFAR-10 test split as
the intruder stand-in. The hidden calibration pass is off (``~callbacks.calibration``): the study uses
no thresholds.

A lane trains its runs one epoch at a time: ``lnta.train ... trainer.max_epochs=E+1`` resumes the run
folder's ``last.ckpt`` (``ckpt_path=auto``) and stops at the end of epoch E; then ``lnta.eval`` tests
``epochE.ckpt`` into ``RUN/epochs/epochEEE/`` (``metrics.json`` with the frame, pixel and mechanism
measures). Every step is skipped when its output exists, so a killed lane is restarted with the same
command, and a run recorded to its last epoch in ``runs/`` (the text in git, ``--recorded``) is skipped
whole: checkpoints do not survive a session, so each session finishes whole runs and the next one goes on
to the lane's next run. Each epoch's CPU kind, resolved precision and wall times go to ``RUN/lane.jsonl``.

    bash experiments/ped2_long/lanes.sh [RUNS]                 # (re)start the two lanes, frozen code
    python experiments/ped2_long/run.py lane "baseline 0" "skip 1" --out RUNS [--code DIR] [--eval-code DIR]
    python experiments/ped2_long/run.py collect --out RUNS     # small text into experiments/ped2_long/runs/
    python experiments/ped2_long/run.py table                  # results.json, results.md, curves.png

``--code DIR`` / ``--eval-code DIR``: a frozen copy of lnta to train / test with (default: this checkout);
``--eval-code none`` trains only (the epochs are tested when a lane with an eval copy comes by).
Run each lane with ``OMP_NUM_THREADS=1`` (two lanes share two cores).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EPOCHS = 20
METHODS = {"baseline": "ped2_baseline", "skip": "ped2_skip", "patch": "ped2_patch"}
SPEED = re.compile(r"Speed\((.*?)\)")


def cpu_kind() -> str:
    """``amx_bf16``, ``avx512_bf16`` or ``avx2``: the CPU's fastest bf16 path (``fast`` trains in bf16 on the first two)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    return next((k for k in ("amx_bf16", "avx512_bf16") if k in flags), "avx2")


def train_overrides(method: str, seed: int, run: Path, epochs: int, shared: Path) -> list[str]:
    overrides = [f"+experiment={METHODS[method]}", f"data.root={shared / 'ped2'}", "data.image_size=64",
                 "data.num_workers=0", "precision=fast", f"seed={seed}", f"trainer.max_epochs={epochs}",
                 "test_after_fit=false", "~callbacks.calibration", "callbacks.step_checkpoint.every_n_train_steps=100",
                 "trainer.enable_progress_bar=false", f"hydra.run.dir={run}"]
    if method == "patch":
        overrides += [f"anomaly.intruder.path={shared / 'cifar10'}", "anomaly.intruder.split=test"]
    return overrides


def _run(cmd: list[str], code: Path, log: Path) -> str:
    """Run ``cmd`` with ``code`` first on the import path, appending its output to ``log``; one line on failure."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    with open(log, "a") as f:
        f.write(f"\n$ {shlex.join(cmd)}   # code: {code}\n")
        f.flush()
        proc = subprocess.run(cmd, cwd=code, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        f.write(proc.stdout)
    if proc.returncode != 0:
        raise SystemExit(f"error: {shlex.join(cmd[:4])} ... failed ({proc.returncode}); see {log}")
    return proc.stdout


def recorded_epochs(recorded: Path, method: str, seed: int) -> int:
    """How many epochs of run ``method``/``seed`` the recorded text (``runs/``, in git) holds, from epoch 0
    without a gap: a run recorded to the study's last epoch is done for good, whatever machine a session
    lands on (checkpoints do not survive a session; the text does)."""
    n = 0
    while (recorded / method / f"seed{seed}" / "epochs" / f"epoch{n:03d}.json").is_file():
        n += 1
    return n


def run_lane_job(method: str, seed: int, out: Path, epochs: int, code: Path, eval_code: Path | None,
                 shared: Path) -> None:
    run = out / method / f"seed{seed}"
    run.mkdir(parents=True, exist_ok=True)
    log, record = run / "lane.log", run / "lane.jsonl"
    for epoch in range(epochs):
        ckpt = run / "checkpoints" / f"epoch{epoch:03d}.ckpt"
        metrics = run / "epochs" / f"epoch{epoch:03d}" / "metrics.json"
        row = {"epoch": epoch, "cpu": cpu_kind(), "host": os.uname().nodename}
        if not ckpt.exists():
            t0 = time.time()
            text = _run([sys.executable, "-m", "lnta.train", *train_overrides(method, seed, run, epoch + 1, shared)], code, log)
            row.update(train_s=round(time.time() - t0), train_speed=(SPEED.findall(text) or [None])[-1],
                       train_code=str(code))
        if eval_code is not None and not metrics.exists():
            t0 = time.time()
            _run([sys.executable, "-m", "lnta.eval", f"ckpt_path={ckpt}", "trainer.enable_progress_bar=false",
                  f"hydra.run.dir={metrics.parent}"], eval_code, log)
            row.update(eval_s=round(time.time() - t0), eval_code=str(eval_code))
        if len(row) > 3:
            with open(record, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(time.strftime("%H:%M:%S"), method, seed, json.dumps(row), flush=True)


#: Keys of a metrics.json that hold this machine's paths: left out of the recorded copy.
MACHINE_PATHS = ("ckpt_path", "labels_file", "masks")


def _portable(metrics: dict) -> dict:
    """``metrics`` without this machine's paths (at any depth): what goes into git."""
    if isinstance(metrics, dict):
        return {k: _portable(v) for k, v in metrics.items() if k not in MACHINE_PATHS}
    return metrics


def collect(out: Path, dest: Path) -> None:
    """Copy the small text of every run into ``dest``: each tested epoch's ``metrics.json`` (without this
    machine's paths) and ``lane.jsonl`` (CPU kind, precision and wall time of each epoch): what the README
    tables are made from."""
    for run in sorted(out.glob("*/seed*")):
        target = dest / run.parent.name / run.name
        for path in sorted(run.glob("epochs/epoch*/metrics.json")):
            (target / "epochs").mkdir(parents=True, exist_ok=True)
            metrics = _portable(json.loads(path.read_text()))
            (target / "epochs" / f"{path.parent.name}.json").write_text(json.dumps(metrics, indent=1) + "\n")
        if (run / "lane.jsonl").is_file():
            rows = [json.loads(line) for line in (run / "lane.jsonl").read_text().splitlines() if line.strip()]
            rows = [{k: v for k, v in r.items() if k not in ("train_code", "eval_code", "host")} for r in rows]
            (target / "lane.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["lane", "collect", "table"])
    parser.add_argument("specs", nargs="*", help='lane: "METHOD SEED" per run, in order')
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "ped2_long")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "datasets",
                        help="the folder holding ped2/ and cifar10/ (default ../shared/datasets)")
    parser.add_argument("--code", type=Path, default=REPO)
    parser.add_argument("--eval-code", default=str(REPO))
    parser.add_argument("--recorded", type=Path, default=HERE / "runs",
                        help="lane: the recorded text; a run whose epochs are all there is skipped")
    a = parser.parse_args()
    if a.what == "lane":
        if not a.recorded.is_dir():
            print(f"warning: --recorded {a.recorded}: no such folder; no run counts as recorded", flush=True)
        eval_code = None if a.eval_code == "none" else Path(a.eval_code).resolve()
        for spec in a.specs:
            method, seed = spec.split()
            if recorded_epochs(a.recorded, method, int(seed)) >= a.epochs:
                print(time.strftime("%H:%M:%S"), "recorded", spec, f"({a.epochs} epochs in {a.recorded})", flush=True)
                continue
            print(time.strftime("%H:%M:%S"), "start", spec, flush=True)
            run_lane_job(method, int(seed), a.out.resolve(), a.epochs, a.code.resolve(), eval_code, a.data)
            print(time.strftime("%H:%M:%S"), "done", spec, flush=True)
    elif a.what == "collect":
        collect(a.out, HERE / "runs")
    else:
        sys.path.insert(0, str(HERE))
        from table import table  # the analysis needs scipy and matplotlib, the lanes do not

        table(HERE / "runs", HERE)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
