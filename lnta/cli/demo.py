"""``python -m lnta.demo`` (``make demo``): baseline, patch and skip-frame on the synthetic data.

Each run is the real CLI, ``python -m lnta.train +experiment=synthetic_<kind>``, writing into
``outputs/demo/<kind>``; the table of their AUCs is printed at the end.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

KINDS = ("baseline", "patch", "skip")


def run(kind: str, out: Path, extra: list[str]) -> float:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "lnta.train", f"+experiment=synthetic_{kind}", f"hydra.run.dir={out / kind}",
           "trainer.enable_progress_bar=false", *extra]
    print(f"[demo] {kind}: {' '.join(cmd[1:])}", flush=True)
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def table(out: Path, seconds: dict[str, float]) -> str:
    lines = ["| run | AUC micro | AUC macro | frames | epochs | minutes | outputs |",
             "|---|---|---|---|---|---|---|"]
    for kind in KINDS:
        m = json.loads((out / kind / "metrics.json").read_text())
        lines.append(f"| {kind} | {m['auc_micro']:.4f} | {m['auc_macro']:.4f} | {m['n_frames_scored']} | "
                     f"{m['epoch'] + 1} | {seconds[kind] / 60:.1f} | {out / kind} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="outputs/demo", help="folder for the three runs")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    total = time.perf_counter()
    try:
        seconds = {kind: run(kind, out, args.overrides) for kind in KINDS}
    except subprocess.CalledProcessError as exc:
        sys.exit(f"[demo] a run failed (exit {exc.returncode}); see its output above")
    print("\nFrame-level AUC on the synthetic test videos (reference protocol, last epoch):\n")
    print(table(out, seconds))
    print(f"\nPlots: <run>/scores.png (score per video, ground truth shaded) and <run>/roc.png; "
          f"total {(time.perf_counter() - total) / 60:.1f} min")


if __name__ == "__main__":
    main()
