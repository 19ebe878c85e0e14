"""Pixel-level AUC of the reconstruction-error maps where pixel masks exist (beyond the paper).

Masks: an ``.npz`` with one bool array (T, H, W) per test video, keyed by video name (Ped2's
``testing/pixel_gt_masks.npz``). The scored frame's squared-error map (averaged over channels) is
resized bilinearly from the model size to the mask size, then read on a grid of every
``stride``-th row and column (memory: frames x H/stride x W/stride float16); the masks are read
on the same grid, unresized. One ROC-AUC over all those pixels of all scored frames.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from lnta.data.labels.formats import PIXEL_MASK_FILE as MASK_FILE, read_pixel_masks
from lnta.errors import ConfigError, DataError
from lnta.metrics.detection_criteria import RULE as DETECTION_RULE, criteria_from_error_maps
from lnta.metrics.frame_scorer import FrameScorer, gather_unique
from lnta.metrics.protocol import roc_auc

log = logging.getLogger(__name__)
PIXEL_RULE = ("ROC-AUC over pixels of every scored frame: squared error resized bilinearly to the mask size, "
              "1 pixel in {stride} along each axis")


def load_pixel_masks(path: Path, names: list[str], lengths: list[int]) -> dict[str, np.ndarray]:
    """The bool masks of each test video, checked against the videos' names and lengths."""
    masks = read_pixel_masks(path, names)
    missing = [n for n in names if n not in masks]
    if missing:
        raise DataError(f"pixel_masks={path}: no masks for test videos {missing}")
    wrong = [n for n, t in zip(names, lengths) if masks[n].ndim != 3 or len(masks[n]) != t]
    if wrong:
        raise DataError(f"pixel_masks={path}: videos {wrong} need (frames, H, W) masks with one per frame")
    return masks


def sample_error_maps(error: torch.Tensor, size: tuple[int, int], stride: int) -> torch.Tensor:
    """(B, h, w) error maps -> resized to ``size`` and read every ``stride`` pixels, float16 on the CPU."""
    resized = F.interpolate(error[:, None].float(), size=size, mode="bilinear", align_corners=False)[:, 0]
    return resized[:, ::stride, ::stride].half().cpu()


class PixelScorer(pl.Callback):
    """Adds ``pixel_auc`` to the frame scorer's metrics; placed before it in the callback list.

    ``masks``: a path, ``auto`` (``<data root>/testing/pixel_gt_masks.npz`` if present) or None (off).
    Also adds ``rbdc``/``tbdc`` (lnta/metrics/detection_criteria.py) from the same sampled error maps and
    masks, with detections above the ``region_quantile`` of the sampled error pixels.
    """

    def __init__(self, frame_scorer: FrameScorer, masks: str | None = "auto", stride: int = 4,
                 region_quantile: float = 0.99):
        if not 0.0 < region_quantile < 1.0:
            raise ConfigError(f"region_quantile={region_quantile}: expected a number in (0, 1)")
        self.frame_scorer, self.masks_option, self.stride = frame_scorer, masks, stride
        self.region_quantile = region_quantile
        self.masks: dict[str, np.ndarray] | None = None

    def _mask_path(self, datamodule) -> Path | None:
        if self.masks_option in (None, "none", False):
            return None
        if self.masks_option == "auto":
            path = Path(datamodule.root) / MASK_FILE
            return path if path.is_file() else None
        path = Path(self.masks_option).expanduser()
        if not path.is_file():
            raise DataError(f"pixel_masks={path}: file not found")
        return path

    def on_test_start(self, trainer, pl_module) -> None:
        store = trainer.datamodule.store("test")
        path = self._mask_path(trainer.datamodule)
        self.masks = load_pixel_masks(path, store.names, store.lengths) if path else None
        pl_module.return_error_maps = self.masks is not None
        self._parts: list[dict] = []

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if self.masks is not None:
            size = next(iter(self.masks.values())).shape[1:]
            self._parts.append({"error": sample_error_maps(outputs["error"], size, self.stride).to(pl_module.device),
                                "video": outputs["video"].detach(), "frame": outputs["frame"].detach()})

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        if self.masks is None:
            return
        data = gather_unique(pl_module, self._parts, ("error", "video", "frame"))
        names = trainer.datamodule.store("test").names
        labels = np.stack([self.masks[names[v]][f, ::self.stride, ::self.stride]
                           for v, f in zip(data["video"], data["frame"])])
        auc = roc_auc(data["error"].astype(np.float32).ravel(), labels.ravel())
        self.frame_scorer.extra_metrics.update(pixel_auc=auc, pixel_auc_rule=PIXEL_RULE.format(stride=self.stride),
                                               pixel_count=int(labels.size))
        log.info("pixel-level AUC %.4f over %d pixels", auc, labels.size)
        criteria, threshold = criteria_from_error_maps(data["error"], labels, data["video"], data["frame"],
                                                       self.region_quantile)
        self.frame_scorer.extra_metrics.update(
            rbdc=criteria.rbdc, tbdc=criteria.tbdc, gt_regions=criteria.n_regions, gt_tracks=criteria.n_tracks,
            rbdc_rule=DETECTION_RULE.format(threshold=threshold, quantile=self.region_quantile, stride=self.stride))
        log.info("RBDC %.4f  TBDC %.4f (%d regions, %d tracks)", criteria.rbdc, criteria.tbdc,
                 criteria.n_regions, criteria.n_tracks)

    def on_test_end(self, trainer, pl_module) -> None:
        pl_module.return_error_maps = False
        self._parts = []


def metric_callbacks(frame_scorer: FrameScorer, masks: str | None = "auto", stride: int = 4,
                     region_quantile: float = 0.99) -> list[pl.Callback]:
    """The test-time metric callbacks in their order: pixel level (when masks exist), then frame level."""
    return [PixelScorer(frame_scorer, masks, stride, region_quantile), frame_scorer]
