"""Test-time evaluation: collects per-frame PSNRs, scores them and writes the run's outputs."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from lnta.metrics.calibration import CALIBRATION_KEY, calibrated_metrics
from lnta.data.sampling import scored_frames
from lnta.errors import DataError
from lnta.io import write_csv, write_json
from lnta.report.plots import plot_roc, plot_video_scores
from lnta.metrics.protocol import REFERENCE_PROTOCOL, frame_level_metrics, minmax_anomaly_scores, roc_curve

log = logging.getLogger(__name__)


def _write_scores_csv(path: Path, names, videos, frames, psnr, scores, labels) -> None:
    write_csv(path, ["video", "frame", "psnr", "score", "label"],
              ([names[v], int(f), f"{p:.6f}", f"{s:.6f}", int(y)] for v, f, p, s, y in zip(videos, frames, psnr, scores, labels)))


def gather_unique(pl_module, parts: list[dict], keys) -> dict[str, np.ndarray]:
    """Concatenate per-batch test outputs over batches and ranks; one entry per (video, frame), sorted."""
    local = {k: torch.cat([p[k] for p in parts]) for k in keys}
    if pl_module.trainer.world_size > 1:  # the distributed sampler pads with repeated clips
        local = {k: pl_module.all_gather(v).flatten(0, 1) for k, v in local.items()}
    out = {k: v.cpu().numpy() for k, v in local.items()}
    key = out["video"].astype(np.int64) * 10**9 + out["frame"]
    _, first = np.unique(key, return_index=True)  # sorted by (video, frame)
    return {k: v[first] for k, v in out.items()}


class FrameScorer(pl.Callback):
    """Owns the frame-level metric: gathers test PSNRs (across ranks, without duplicates),
    applies the reference protocol, logs the AUCs and writes ``metrics.json``, ``scores.csv``,
    ``scores.png`` and ``roc.png`` into ``output_dir``.
    """

    def __init__(self, output_dir: str, extra_metrics: dict | None = None):
        self.output_dir = Path(output_dir)
        self.extra_metrics = dict(extra_metrics or {})
        self.metrics: dict | None = None
        self.frames: dict | None = None

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._parts: list[dict] = []

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._parts.append({k: outputs[k].detach() for k in ("psnr", "video", "frame")})

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        data = gather_unique(pl_module, self._parts, ("psnr", "video", "frame"))
        dm = trainer.datamodule
        store, labels_by_video = dm.store("test"), dm.test_labels
        expected = sum(len(scored_frames(n, dm.clip_len, dm.center)) for n in store.lengths)
        if len(data["psnr"]) != expected:
            raise DataError(f"scored {len(data['psnr'])} frames but the protocol expects {expected}")
        videos, frames = data["video"].astype(np.int64), data["frame"].astype(np.int64)
        labels = np.array([labels_by_video[store.names[v]][f] for v, f in zip(videos, frames)], np.uint8)
        psnr = data["psnr"].astype(np.float64)
        scores = minmax_anomaly_scores(psnr, videos)
        metrics = frame_level_metrics(scores, labels, videos)
        metrics.update({"n_frames_scored": int(len(scores)), "protocol": REFERENCE_PROTOCOL,
                        "dataset": dm.name, **getattr(dm, "label_info", {}), "epoch": int(trainer.current_epoch),
                        "global_step": int(trainer.global_step), **self.extra_metrics})
        stats = getattr(pl_module, CALIBRATION_KEY, None)
        if stats:
            metrics["calibrated"] = calibrated_metrics(psnr, labels, videos, stats)
        self.metrics = metrics
        self.frames = {"video": videos, "frame": frames, "psnr": psnr, "score": scores, "label": labels,
                       "names": store.names}  # for dashboards
        pl_module.log_dict({"test/auc_micro": metrics["auc_micro"], "test/auc_macro": metrics["auc_macro"]},
                           rank_zero_only=True, sync_dist=False)
        if trainer.is_global_zero:
            self._write(metrics, store.names, videos, frames, psnr, scores, labels)

    def _write(self, metrics, names, videos, frames, psnr, scores, labels) -> None:
        out = self.output_dir
        write_json(out / "metrics.json", metrics)
        _write_scores_csv(out / "scores.csv", names, videos, frames, psnr, scores, labels)
        plot_video_scores(out / "scores.png", videos, frames, scores, labels, names,
                          title=f"{out.name}: AUC micro {metrics['auc_micro']:.4f}, macro {metrics['auc_macro']:.4f}")
        plot_roc(out / "roc.png", *roc_curve(scores, labels), metrics["auc_micro"])
        log.info("frame-level AUC micro %.4f macro %.4f over %d frames -> %s",
                 metrics["auc_micro"], metrics["auc_macro"], metrics["n_frames_scored"], out)
