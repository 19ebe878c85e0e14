"""``python -m lnta.demo`` (``make demo``): baseline, patch and skip-frame on the synthetic data, over seeds.

Each run is the real CLI, ``python -m lnta.train +experiment=synthetic_<method> seed=S``, writing into
``<out>/<time>/<method>/seed<S>`` (a fresh folder per demo, so nothing is resumed or overwritten), its
console output into ``seed<S>.log`` beside that folder. The data are the same for every run (``data.seed``); only the
training seed differs. ``--jobs`` runs side by side, each with ``OMP_NUM_THREADS`` = cores / jobs. At the
end: the frame-level AUC of every run (reference protocol, last epoch), mean ± std (ddof 1) per method,
and the wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import numpy as np

METHODS = ("baseline", "patch", "skip")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an integer >= 1")
    return value


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class _Runner:
    """Starts the training runs as subprocesses; on the first failure stops the others."""

    def __init__(self, out: Path, overrides: list[str], threads: int):
        self.out, self.overrides, self.threads = out, overrides, threads
        self.procs: set[subprocess.Popen] = set()
        self.failed: tuple[str, Path, int] | None = None
        self.lock = threading.Lock()

    def command(self, method: str, seed: int) -> list[str]:
        return [sys.executable, "-m", "lnta.train", f"+experiment=synthetic_{method}", f"seed={seed}",
                f"hydra.run.dir={self.out / method / f'seed{seed}'}", "trainer.enable_progress_bar=false",
                *self.overrides]

    def run(self, method: str, seed: int) -> float | None:
        """Train and test one run; returns its minutes, or None when it failed or was stopped."""
        log_path = self.out / method / f"seed{seed}.log"   # beside the run dir, which lnta.train owns
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads)}
        start = time.perf_counter()
        with self.lock:
            if self.failed:
                return None
            command = self.command(method, seed)
            print(f"[demo] start {method} seed {seed}: {' '.join(command[1:])}", flush=True)
            with open(log_path, "w") as log:
                proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            self.procs.add(proc)
        code = proc.wait()
        with self.lock:
            self.procs.discard(proc)
            if code != 0 and not self.failed:
                self.failed = (f"{method} seed {seed}", log_path, code)
                for other in self.procs:
                    other.terminate()
            if code != 0:
                return None
        minutes = (time.perf_counter() - start) / 60
        auc = json.loads((self.out / method / f"seed{seed}" / "metrics.json").read_text())["auc_micro"]
        print(f"[demo] done  {method} seed {seed}: AUC {auc:.4f} ({minutes:.1f} min)", flush=True)
        return minutes

    def stop(self) -> None:
        with self.lock:
            for proc in self.procs:
                proc.terminate()


def _mean_std(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.4f}"
    return f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}"


def table(out: Path, seeds: list[int], minutes: dict[tuple[str, int], float]) -> str:
    """The markdown table: per-seed micro AUCs, their mean ± std (ddof 1), the macro AUC's, minutes per run."""
    lines = ["| method | " + " | ".join(f"seed {s}" for s in seeds) + " | AUC micro, mean ± std | "
             "vs baseline | AUC macro, mean ± std | minutes per run |",
             "|---|" + "---|" * len(seeds) + "---|---|---|---|"]
    base = None
    for method in METHODS:
        metrics = [json.loads((out / method / f"seed{s}" / "metrics.json").read_text()) for s in seeds]
        micro, macro = [m["auc_micro"] for m in metrics], [m["auc_macro"] for m in metrics]
        base = float(np.mean(micro)) if base is None else base
        delta = "—" if method == "baseline" else f"{np.mean(micro) - base:+.4f}"
        lines.append(f"| {method} | " + " | ".join(f"{a:.4f}" for a in micro) + f" | {_mean_std(micro)} | {delta} | "
                     f"{_mean_std(macro)} | {np.mean([minutes[method, s] for s in seeds]):.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=_positive, default=3, help="training seeds 0..N-1 per method (default 3)")
    parser.add_argument("--jobs", type=_positive, default=2,
                        help="runs side by side (default 2), each with OMP_NUM_THREADS = cores / jobs, at least 1")
    parser.add_argument("--out", default="outputs/demo", help="folder for the demo (a <time> folder inside it)")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve() / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    seeds = list(range(args.seeds))
    threads = max(1, _cores() // args.jobs)
    runner = _Runner(out, args.overrides, threads)
    jobs = [(method, seed) for seed in seeds for method in METHODS]
    total = time.perf_counter()
    print(f"[demo] {len(jobs)} runs, {args.jobs} side by side with OMP_NUM_THREADS={threads} each, into {out}",
          flush=True)
    try:
        with ThreadPoolExecutor(args.jobs) as pool:
            minutes = dict(zip(jobs, pool.map(lambda job: runner.run(*job), jobs)))
    except KeyboardInterrupt:
        runner.stop()
        raise
    if runner.failed:
        name, log_path, code = runner.failed
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        print("\n".join(tail), file=sys.stderr)
        sys.exit(f"[demo] {name} failed (exit {code}); its output: {log_path}")
    wall = (time.perf_counter() - total) / 60
    print(f"\nFrame-level AUC on the synthetic test videos (reference protocol, last epoch; the same data, "
          f"training seeds {', '.join(map(str, seeds))}):\n")
    print(table(out, seeds, minutes))
    print(f"\n{len(jobs)} runs in {wall:.1f} min wall ({args.jobs} side by side, OMP_NUM_THREADS={threads} each). "
          f"Plots: <run>/scores.png (score per video, ground truth shaded), <run>/roc.png; runs in {out}")


if __name__ == "__main__":
    main()
