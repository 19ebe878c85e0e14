"""``python -m lnta.demo`` (``make demo``): baseline, patch and skip-frame on the synthetic data, over seeds.

Each run is the real CLI, ``python -m lnta.train +experiment=synthetic_<method> seed=S``, writing into
``<out>/<time>/<method>/seed<S>`` (a fresh folder per demo, so nothing is resumed or overwritten), its
console output into ``seed<S>.log`` beside that folder; the demo's console gets each run's start, its duration
estimate (after its first steps) and its end. The data are the same for every run (``data.seed``); only the
training seed differs. ``--jobs`` runs side by side (default: one more than the cores, so that the last run
does not train alone on an otherwise idle machine), each with ``OMP_NUM_THREADS`` = cores / jobs, at least 1. At the
end: the frame-level AUC of every run (reference protocol, last epoch), mean ± std (ddof 1) per method with
Welch's t-test against the baseline, the AUC per kind of test anomaly, the mechanism measure (where the
reconstruction error goes: anomalies, walkers, background; :mod:`lnta.metrics.mechanism`) and the wall time.
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
REGIONS = (("anomaly", "anomalies"), ("foreground", "walkers"), ("background", "background"))


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


def relay(lines, log, name: str) -> None:
    """Copy a run's output ``lines`` (bytes, each ending in a newline) into ``log`` (a binary file) and print its
    duration estimate (the plan's line holding :data:`lnta.callbacks.progress.ESTIMATE`) as
    ``[demo] <name>: <estimate>``, so that the console says how long the minutes of training between the start
    and done lines will take."""
    from lnta.callbacks.progress import ESTIMATE

    marker = ESTIMATE.encode()
    for line in lines:
        log.write(line)
        if marker in line:
            log.flush()
            print(f"[demo] {name}: {line.decode(errors='replace').split('plan: ', 1)[-1].strip()}", flush=True)


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
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
            self.procs.add(proc)
        try:
            with open(log_path, "wb") as log:
                relay(proc.stdout, log, f"{method} seed {seed}")
        except BaseException:  # e.g. the console's pipe closed: the run must not block on a full pipe
            proc.terminate()
            proc.wait()
            raise
        finally:
            proc.stdout.close()
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


def _mean_std(values: list[float], digits: int = 4) -> str:
    if len(values) < 2:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def welch_p(values: list[float], baseline: list[float]) -> float:
    """Two-sided p of Welch's t-test (unequal variances) of ``values`` against ``baseline``; NaN below 2 runs a side."""
    from scipy import stats

    if len(values) < 2 or len(baseline) < 2:
        return float("nan")
    return float(stats.ttest_ind(values, baseline, equal_var=False).pvalue)


def _metrics(out: Path, methods, seeds) -> dict[str, list[dict]]:
    return {m: [json.loads((out / m / f"seed{s}" / "metrics.json").read_text()) for s in seeds] for m in methods}


def table(out: Path, seeds: list[int], minutes: dict[tuple[str, int], float], methods=METHODS) -> str:
    """The markdown table: per-seed micro AUCs, their mean ± std (ddof 1), the difference to the baseline and
    Welch's p, the macro AUC's mean ± std, minutes per run."""
    lines = ["| method | " + " | ".join(f"seed {s}" for s in seeds) + " | AUC micro, mean ± std | "
             "vs baseline | Welch p | AUC macro, mean ± std | minutes per run |",
             "|---|" + "---|" * len(seeds) + "---|---|---|---|---|"]
    metrics = _metrics(out, methods, seeds)
    base = [m["auc_micro"] for m in metrics[methods[0]]]
    for method in methods:
        micro, macro = [m["auc_micro"] for m in metrics[method]], [m["auc_macro"] for m in metrics[method]]
        delta, p = ("—", "—") if method == methods[0] else (f"{np.mean(micro) - np.mean(base):+.4f}",
                                                           f"{welch_p(micro, base):.3f}")
        lines.append(f"| {method} | " + " | ".join(f"{a:.4f}" for a in micro) + f" | {_mean_std(micro)} | {delta} | "
                     f"{p} | {_mean_std(macro)} | {np.mean([minutes[method, s] for s in seeds]):.1f} |")
    return "\n".join(lines)


def _pooled(per_video: dict, names: list[str], region: str) -> float:
    """The MSE of ``region`` over the pixels of videos ``names`` (per-video MSEs weighted by their pixel counts)."""
    pairs = [(v[f"{region}_mse"], v["pixels"][region]) for n, v in per_video.items() if n in names and v["pixels"][region]]
    return sum(m * k for m, k in pairs) / sum(k for _, k in pairs) if pairs else float("nan")


def kinds_of(names) -> dict[str, list[str]]:
    """The synthetic test videos by kind of anomaly (:data:`lnta.data.synthetic.TEST_KINDS`)."""
    from lnta.data.synthetic import TEST_KINDS

    ordered = sorted(names)
    return {kind: [n for i, n in enumerate(ordered) if TEST_KINDS[i % len(TEST_KINDS)] == kind] for kind in TEST_KINDS}


def mechanism_table(out: Path, seeds: list[int], methods=METHODS) -> str:
    """Mean ± std over seeds of the reconstruction PSNR (dB) of anomalies, walkers and background, the gap
    (PSNR walkers - PSNR anomalies; larger: anomalies reconstructed worse than normal objects) over all test
    videos and per kind of anomaly, and the mean per-video AUC per kind."""
    metrics = _metrics(out, methods, seeds)
    kinds = kinds_of(metrics[methods[0]][0]["auc_per_video"])
    lines = ["| method | " + " | ".join(f"PSNR {label} (dB)" for _, label in REGIONS) + " | gap, all (dB) | "
             + " | ".join(f"gap, {k}s (dB)" for k in kinds) + " | " + " | ".join(f"AUC {k} videos" for k in kinds)
             + " |", "|---|" + "---|" * (len(REGIONS) + 1 + 2 * len(kinds))]
    for method in methods:
        runs = [m["mechanism"] for m in metrics[method]]
        cells = [_mean_std([r[f"{region}_psnr"] for r in runs], 2) for region, _ in REGIONS]
        cells.append(_mean_std([r["gap_db"] for r in runs], 2))
        for names in kinds.values():
            cells.append(_mean_std([10 * np.log10(_pooled(r["per_video"], names, "anomaly")
                                                  / _pooled(r["per_video"], names, "foreground")) for r in runs], 2))
        for names in kinds.values():
            cells.append(_mean_std([float(np.nanmean([m["auc_per_video"][n] for n in names]))
                                    for m in metrics[method]], 4))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lnta.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=_positive, default=3, help="training seeds 0..N-1 per method (default 3)")
    parser.add_argument("--jobs", type=_positive, default=_cores() + 1,
                        help="runs side by side (default: cores + 1), each with OMP_NUM_THREADS = cores / jobs, at least 1")
    parser.add_argument("--out", default="outputs/demo", help="folder for the demo (a <time> folder inside it)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS),
                        help="methods to run (default: all; the first is the reference of the tests)")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve() / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    seeds = list(range(args.seeds))
    threads = max(1, _cores() // args.jobs)
    runner = _Runner(out, args.overrides, threads)
    methods = tuple(args.methods)
    jobs = [(method, seed) for seed in seeds for method in methods]
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
    print(table(out, seeds, minutes, methods))
    print("\nWhere the reconstruction error goes (test set; PSNR of the scored frame per region, mean ± std over "
          "seeds; gap = PSNR walkers - PSNR anomalies: the paper's mechanism widens it):\n")
    print(mechanism_table(out, seeds, methods))
    print(f"\n{len(jobs)} runs in {wall:.1f} min wall ({args.jobs} side by side, OMP_NUM_THREADS={threads} each). "
          f"Plots: <run>/heatmaps.png (input, reconstruction, error), <run>/scores.png (score per video, ground truth "
          f"shaded), <run>/roc.png; runs in {out}")


if __name__ == "__main__":
    main()
