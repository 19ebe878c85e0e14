"""The files of a test pass: ``metrics.json``, ``scores.csv``, ``scores.png``, ``roc.png`` (from the
evaluator's metrics and per-frame results, :mod:`lnta.metrics.evaluate`), and the per-epoch table of a run
(``epochs.csv``, ``epoch_metrics.json``, ``epochs.png``, ``mechanism.png``)."""
from __future__ import annotations

import logging
from pathlib import Path

from lnta.io import write_csv, write_json
from lnta.metrics.protocol import roc_curve
from lnta.metrics.selection import COLUMNS, PROTOCOLS, select_epoch
from lnta.reporting.plots import plot_curves, plot_roc, plot_video_scores

log = logging.getLogger(__name__)


def _write_scores_csv(path: Path, names, videos, frames, psnr, scores, labels) -> None:
    write_csv(path, ["video", "frame", "psnr", "score", "label"],
              ([names[v], int(f), f"{p:.6f}", f"{s:.6f}", int(y)] for v, f, p, s, y in zip(videos, frames, psnr, scores, labels)))


def write_test_outputs(output_dir: str | Path, metrics: dict, results: dict, names: list[str]) -> None:
    """Write ``metrics.json``, ``scores.csv``, ``scores.png`` and ``roc.png`` into ``output_dir``;
    ``names[v]`` is the name of test video ``v``."""
    out = Path(output_dir)
    r = results
    write_json(out / "metrics.json", metrics)
    _write_scores_csv(out / "scores.csv", names, r["video"], r["frame"], r["psnr"], r["score"], r["label"])
    plot_video_scores(out / "scores.png", r["video"], r["frame"], r["score"], r["label"], names,
                      title=f"{out.name}: AUC micro {metrics['auc_micro']:.4f}, macro {metrics['auc_macro']:.4f}")
    plot_roc(out / "roc.png", *roc_curve(r["score"], r["label"]), metrics["auc_micro"])
    log.info("frame-level AUC micro %.4f macro %.4f over %d frames -> %s",
             metrics["auc_micro"], metrics["auc_macro"], metrics["n_frames_scored"], out)


def write_epoch_table(run_dir: Path, rows: list[dict]) -> None:
    """Write the per-epoch metrics ``rows`` of a run, labelled with the ``last`` and ``oracle`` picks:
    ``epochs.csv``, ``epoch_metrics.json``, ``epochs.png`` (the AUC per epoch) and, where the rows carry
    the mechanism measure, ``mechanism.png`` (the reconstruction PSNR of anomalies, normal foreground and
    background per epoch)."""
    rows = sorted(rows, key=lambda r: r["epoch"])
    write_csv(run_dir / "epochs.csv", COLUMNS, [{**r, **r.get("mechanism", {})} for r in rows])
    selections = {name: {"rule": rule, **select_epoch(rows, name)} for name, rule in PROTOCOLS.items()}
    write_json(run_dir / "epoch_metrics.json", {"epochs": rows, "selection": selections})
    epochs = [r["epoch"] for r in rows]
    plot_curves(run_dir / "epochs.png", {"micro AUC": (epochs, [r["auc_micro"] for r in rows])},
                xlabel="epoch", ylabel="frame-level AUC", title=f"AUC per epoch: {run_dir.name}")
    if all("mechanism" in r for r in rows):
        plot_curves(run_dir / "mechanism.png",
                    {region: (epochs, [r["mechanism"][f"{region}_psnr"] for r in rows])
                     for region in ("anomaly", "foreground", "background")},
                    xlabel="epoch", ylabel="reconstruction PSNR (dB)", title=f"Where the error goes: {run_dir.name}")
