"""Frame-level AUC of ``lnta.score`` outputs on Ped2's test set, to compare runtimes on real data.

    python experiments/openvino_cpu/auc.py LABELS.npy SCORE_DIR [SCORE_DIR ...]

Each SCORE_DIR is an ``lnta.score input=.../ped2/testing/frames edges=drop`` run (the reference protocol:
frames 8 to n-8 of every test video scored). Labels: Ped2's ``frame_labels_ped2.npy`` (the test videos
concatenated in sorted order). The AUC is lnta's (:func:`lnta.metrics.protocol.frame_level_metrics` on the
per-video min-max scores of ``scores.csv``). Prints one JSON line per directory, and the largest PSNR
difference between the first directory and each other, frame by frame.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

from lnta.metrics.protocol import frame_level_metrics, minmax_anomaly_scores


def read(score_dir: Path):
    with open(score_dir / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    names = sorted({r["video"] for r in rows})
    videos = np.array([names.index(r["video"]) for r in rows])
    frames = np.array([int(r["frame"]) for r in rows])
    psnr = np.array([float(r["psnr"]) for r in rows])
    return names, videos, frames, psnr


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    labels_all = np.load(argv[0]).reshape(-1)
    first = None
    for score_dir in map(Path, argv[1:]):
        names, videos, frames, psnr = read(score_dir)
        report = json.loads((score_dir / "flagged.json").read_text())
        lengths = [report["videos"][n]["last_frame"] + 8 for n in names]  # edges=drop: 7 unscored after the last
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        labels = labels_all[offsets[videos] + frames].astype(np.int64)
        metrics = frame_level_metrics(minmax_anomaly_scores(psnr, videos), labels, videos, names)
        line = {"dir": str(score_dir), "runtime": report.get("runtime"),
                "inference_precision": report.get("inference_precision", report.get("trainer_precision")),
                "frames": int(len(psnr)), "auc_micro": metrics["auc_micro"], "auc_macro": metrics["auc_macro"]}
        if first is None:
            first = psnr
        else:
            line["max_abs_psnr_diff_vs_first_db"] = float(np.abs(psnr - first).max())
        print(json.dumps(line))


if __name__ == "__main__":
    main()
