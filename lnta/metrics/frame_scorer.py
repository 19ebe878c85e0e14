"""Test-time frame-level evaluation: an accumulator of test-step outputs, and the metrics of its results.

:class:`FrameScorer` reads only what ``test_step`` returns (PSNR, video, frame and the label of
each clip's scored frame, which rides in the test batch), gathers it across ranks without
duplicates and applies the reference protocol. :func:`run_metrics` assembles ``metrics.json``
from its results and what the command passes in; :mod:`lnta.reporting.test_outputs` writes the files.
"""
from __future__ import annotations

import logging

import numpy as np
import pytorch_lightning as pl
import torch

from lnta.errors import DataError
from lnta.metrics.calibration import DEFAULT_FALSE_ALARM_RATE, calibrated_metrics
from lnta.metrics.protocol import REFERENCE_PROTOCOL, check_finite_psnr, frame_level_metrics, minmax_anomaly_scores

log = logging.getLogger(__name__)

#: The per-frame entries of a ``test_step`` output that the frame scorer reads.
FRAME_KEYS = ("psnr", "video", "frame", "label")


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
    """Accumulates the test outputs ``psnr``, ``video``, ``frame`` and ``label`` (each (B,)) of
    every batch, like a torchmetrics ``Metric``; at the end of the test epoch :attr:`results` holds
    one entry per scored frame, sorted by (video, frame), with the per-video min-max ``score``, and
    :attr:`metrics` the frame-level AUCs (the command logs them, with the trained epoch, to its loggers:
    :func:`lnta.loggers.log_test_metrics`). Raises :class:`DataError` when a batch carries no labels.
    """

    def __init__(self):
        self.results: dict[str, np.ndarray] | None = None
        self.metrics: dict | None = None
        self._parts: list[dict] = []

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._parts, self.results, self.metrics = [], None, None

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if "label" not in outputs:
            raise DataError("the test batches carry no 'label': the test dataset must yield each clip's "
                            "scored-frame label")
        self._parts.append({k: torch.as_tensor(outputs[k]).detach() for k in FRAME_KEYS})

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        data = gather_unique(pl_module, self._parts, FRAME_KEYS)
        self._parts = []
        videos, psnr = data["video"].astype(np.int64), data["psnr"].astype(np.float64)
        labels = data["label"].astype(np.uint8)
        scores = minmax_anomaly_scores(psnr, videos)
        self.results = {"video": videos, "frame": data["frame"].astype(np.int64), "psnr": psnr,
                        "score": scores, "label": labels}
        self.metrics = frame_level_metrics(scores, labels, videos)


def check_both_classes(labels: np.ndarray, source: str) -> None:
    """Refuse test labels of one class only: the frame-level (micro) AUC is undefined, not 0.5."""
    if labels.size and 0 < int(np.sum(labels)) < labels.size:
        return
    kind = "anomalous (1)" if labels.size and labels.all() else "normal (0)"
    raise DataError(f"{source}: all {labels.size} scored test frames are labelled {kind}; the frame-level AUC "
                    "is undefined (it needs normal and anomalous frames); check the labels (data.labels)")


def warn_single_class_videos(metrics: dict) -> None:
    """Warn that single-class videos have no AUC (``null`` in metrics.json) and what macro averages."""
    single = [name for name, auc in metrics["auc_per_video"].items() if np.isnan(auc)]
    if single:
        log.warning("%d test video(s) contain one class only (%s): their AUC is undefined (null in metrics.json); "
                    "the macro AUC averages the other %d%s", len(single), ", ".join(single),
                    metrics["auc_macro_videos"], " and is undefined too" if not metrics["auc_macro_videos"] else "")


def run_metrics(results: dict, expected_frames: int, facts: dict | None = None, calibration: dict | None = None,
                 false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE, extra: dict | None = None,
                 names: list[str] | None = None) -> dict:
    """The run's ``metrics.json``: frame-level AUCs of ``results`` (from :class:`FrameScorer`), the
    protocol, ``facts`` (dataset, label source, epoch, precision, ...), the calibrated score where
    ``calibration`` statistics exist, and ``extra`` (e.g. the pixel-level metrics); per-video AUCs
    keyed by ``names[v]``. Raises :class:`DataError` when the number of scored frames is not
    ``expected_frames``, when a PSNR is not finite (broken weights) and when the labels hold one
    class only (the AUC is undefined)."""
    facts = facts or {}
    n = len(results["psnr"])
    if n != expected_frames:
        raise DataError(f"scored {n} frames but the protocol expects {expected_frames}")
    names = list(names) if names is not None else [str(v) for v in range(int(results["video"].max(initial=-1)) + 1)]
    check_finite_psnr(results["psnr"], names, results["video"], results["frame"],
                      facts.get("ckpt_path", "the trained model"))
    check_both_classes(results["label"], facts.get("labels_file", "the test labels"))
    metrics = frame_level_metrics(results["score"], results["label"], results["video"], names)
    warn_single_class_videos(metrics)
    metrics.update({"n_frames_scored": int(n), "protocol": REFERENCE_PROTOCOL, **facts, **(extra or {})})
    if calibration:
        metrics["calibrated"] = calibrated_metrics(results["psnr"], results["label"], results["video"], calibration,
                                                   false_alarm_rate, names)
    return metrics
