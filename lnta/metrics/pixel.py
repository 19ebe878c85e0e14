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
from lnta.errors import DataError
from lnta.metrics.detection_criteria import RULE as DETECTION_RULE, criteria_from_error_maps
from lnta.metrics.frame_scorer import gather_unique
from lnta.metrics.protocol import roc_auc

log = logging.getLogger(__name__)
PIXEL_RULE = ("ROC-AUC over pixels of every scored frame: squared error resized bilinearly to the mask size, "
              "1 pixel in {stride} along each axis")


def load_pixel_masks(path: Path, names: list[str], lengths: list[int]) -> dict[str, np.ndarray]:
    """The bool masks of each test video, checked against the videos' names and lengths."""
    masks = read_pixel_masks(path, names)
    missing = [n for n in names if n not in masks]
    if missing:
        raise DataError(f"evaluation.pixel_masks={path}: no masks for test videos {missing}")
    wrong = [n for n, t in zip(names, lengths) if masks[n].ndim != 3 or len(masks[n]) != t]
    if wrong:
        raise DataError(f"evaluation.pixel_masks={path}: videos {wrong} need (frames, H, W) masks with one per frame")
    return masks


def sample_error_maps(error: torch.Tensor, size: tuple[int, int], stride: int) -> torch.Tensor:
    """(B, h, w) error maps -> resized to ``size`` and read every ``stride`` pixels, float16 on the CPU."""
    resized = F.interpolate(error[:, None].float(), size=size, mode="bilinear", align_corners=False)[:, 0]
    return resized[:, ::stride, ::stride].half().cpu()


def mask_path(option: str | None, data_root: str | Path) -> Path | None:
    """The pixel-mask file of the ``pixel_masks`` setting: a path, ``auto`` (``<data root>/testing/
    pixel_gt_masks.npz`` if present) or None/``none`` (off). Raises :class:`DataError` for a missing PATH."""
    if option in (None, "none", False):
        return None
    if option == "auto":
        path = Path(data_root) / MASK_FILE
        return path if path.is_file() else None
    path = Path(option).expanduser()
    if not path.is_file():
        raise DataError(f"evaluation.pixel_masks={path}: file not found")
    return path


def _mask_size(path: Path) -> tuple[int, int]:
    try:
        with np.load(path) as data:
            first = data[data.files[0]] if data.files else None
    except (OSError, ValueError) as exc:
        raise DataError(f"evaluation.pixel_masks={path}: not a readable .npz ({exc.__class__.__name__})") from None
    if first is None or first.ndim != 3:
        raise DataError(f"evaluation.pixel_masks={path}: expected one (frames, H, W) bool array per test video")
    return tuple(first.shape[1:])


class PixelScorer(pl.Callback):
    """Accumulates the test outputs ``error`` (B, h, w; :func:`lnta.metrics.protocol.error_map`),
    ``video`` and ``frame``, resized to the mask size and strided as they come; :meth:`compute`
    returns ``pixel_auc``, its rule and the pixel count for ``metrics.json``, and ``rbdc``/``tbdc``
    (lnta/metrics/detection_criteria.py) from the same sampled error maps and masks, with detections
    above the ``region_quantile`` of the sampled error pixels.

    ``masks``: the mask file (see :func:`mask_path`). The module must be built with
    ``error_maps=True`` so that ``test_step`` returns the maps. ``region_quantile`` in (0, 1) and ``stride``
    >= 1 (checked as ``evaluation.*`` settings, :mod:`lnta.metrics.settings`).
    """

    def __init__(self, masks: str | Path, stride: int = 4, region_quantile: float = 0.99):
        self.path, self.stride, self.region_quantile = Path(masks), stride, region_quantile
        self.size = _mask_size(self.path)
        self.data: dict[str, np.ndarray] | None = None
        self._parts: list[dict] = []

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._parts, self.data = [], None

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if "error" not in outputs:
            raise DataError(f"evaluation.pixel_masks={self.path}: the test step returns no error maps (build the module "
                            "with error_maps=True)")
        self._parts.append({"error": sample_error_maps(outputs["error"], self.size, self.stride).to(pl_module.device),
                            "video": outputs["video"].detach(), "frame": outputs["frame"].detach()})

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self.data = gather_unique(pl_module, self._parts, ("error", "video", "frame"))
        self._parts = []

    def compute(self, names: list[str], lengths: list[int]) -> dict:
        """Pixel-level metrics of the gathered maps against the masks of test videos ``names``
        (with ``lengths`` frames each, checked): ``pixel_auc``, ``pixel_auc_rule``, ``pixel_count``,
        ``rbdc``, ``tbdc``, ``gt_regions``, ``gt_tracks``, ``rbdc_rule``."""
        data = self.data
        log.info("pixel-level metrics: the error maps of %d frames against the masks (AUC, RBDC, TBDC)",
                 len(data["frame"]))
        masks = load_pixel_masks(self.path, names, lengths)
        labels = np.stack([masks[names[v]][f, ::self.stride, ::self.stride]
                           for v, f in zip(data["video"], data["frame"])])
        auc = roc_auc(data["error"].astype(np.float32).ravel(), labels.ravel())
        log.info("pixel-level AUC %.4f over %d pixels", auc, labels.size)
        criteria, threshold = criteria_from_error_maps(data["error"], labels, data["video"], data["frame"],
                                                       self.region_quantile)
        log.info("RBDC %.4f  TBDC %.4f (%d regions, %d tracks)", criteria.rbdc, criteria.tbdc,
                 criteria.n_regions, criteria.n_tracks)
        return {"pixel_auc": auc, "pixel_auc_rule": PIXEL_RULE.format(stride=self.stride),
                "pixel_count": int(labels.size), "rbdc": criteria.rbdc, "tbdc": criteria.tbdc,
                "gt_regions": criteria.n_regions, "gt_tracks": criteria.n_tracks,
                "rbdc_rule": DETECTION_RULE.format(threshold=threshold, quantile=self.region_quantile,
                                                   stride=self.stride)}
