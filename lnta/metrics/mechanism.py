"""The mechanism measure: where the reconstruction error goes (anomalies, normal foreground, background).

The paper's claim is about reconstructions, not only the AUC (Astrid et al., BMVC 2021, Sec. 1, Fig. 1):
a plain AE reconstructs normal content *and* anomalies; pseudo anomalies teach it to reconstruct normal
content only, so the error inside anomalies grows while normal moving objects stay well reconstructed.
This module measures exactly that on the test set: the mean squared reconstruction error of the scored
frame (:func:`lnta.metrics.protocol.error_map`, squared [-1, 1] units) over three kinds of pixels,

- ``anomaly``: inside the anomaly masks (pixel masks, or the generator's exact object masks);
- ``foreground``: normal moving content outside them (exact object masks where the data have them;
  otherwise estimated by background subtraction, see :func:`estimate_foreground`);
- ``background``: everything else,

and ``gap_db`` = PSNR(foreground) - PSNR(anomaly) = 10 log10(anomaly MSE / foreground MSE): how much
worse anomalies are reconstructed than normal moving objects. A plain AE that over-generalises has a
small gap; the method's mechanism, where it works, widens it.

Resolution: everything is read at the model's resolution (the error maps' own), every ``stride``-th
pixel. The masks are resized to it by area: a pixel counts as anomaly where at least half of it is
masked, as foreground/background only where none of it is, and is left out in between (object edges).

Region files: ``testing/region_masks.npz`` (written by the synthetic generator) holds one uint8
(T, H, W) array per test video with 0 = background, 1 = normal object, 2 = anomaly. Without it, the
anomaly masks are ``testing/pixel_gt_masks.npz`` (:mod:`lnta.metrics.pixel`) and the foreground is
estimated.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from lnta.data.labels.formats import ANOMALY, BACKGROUND, FOREGROUND, REGION_FILE
from lnta.errors import DataError
from lnta.metrics.frame_scorer import gather_unique
from lnta.metrics.pixel import load_pixel_masks

log = logging.getLogger(__name__)

EXCLUDED = 255  # region-map code of the pixels left out (object edges)
REGIONS = {"anomaly": ANOMALY, "foreground": FOREGROUND, "background": BACKGROUND}
#: Background subtraction threshold: 20 grey levels of 255, in the [-1, 1] units the model sees.
FOREGROUND_THRESHOLD = 20 / 127.5
FOREGROUND_RULE = ("estimated: |frame - per-video temporal median of the scored test frames| > 20 grey levels, "
                   "outside the anomaly masks")
EXACT_RULE = "exact: the generator's object masks"
MECHANISM_RULE = ("mean squared reconstruction error of the scored frame (squared [-1, 1] units) over all scored "
                  "frames' pixels of each region, at the model's resolution, 1 pixel in {stride} per axis; masks "
                  "resized by area (anomaly: >= half covered; foreground/background: not covered; edges left out); "
                  "gap_db = 10 log10(anomaly MSE / foreground MSE)")


def coverage(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, H, W) bool masks -> (T, h, w) float32 fraction of each model pixel that is masked (area resize)."""
    t = torch.from_numpy(np.ascontiguousarray(masks, dtype=np.float32))[:, None]
    if tuple(t.shape[-2:]) == tuple(size):
        return t[:, 0].numpy()
    return F.interpolate(t, size=size, mode="area")[:, 0].numpy()


def estimate_foreground(frames: np.ndarray, videos: np.ndarray, threshold: float = FOREGROUND_THRESHOLD) -> np.ndarray:
    """Moving foreground of static-camera test frames by background subtraction: (N, h, w) frames in [-1, 1]
    and their (N,) video indices -> (N, h, w) bool, ``|frame - median of that video's frames| > threshold``."""
    out = np.zeros(frames.shape, dtype=bool)
    for v in np.unique(videos):
        sel = videos == v
        video = frames[sel].astype(np.float32)
        out[sel] = np.abs(video - np.median(video, axis=0)) > threshold
    return out


def region_maps(anomaly: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """Per pixel, from the (N, h, w) covered fractions of anomaly and of normal foreground: ANOMALY where
    ``anomaly >= 0.5``, FOREGROUND where no anomaly and ``foreground >= 0.5``, BACKGROUND where neither
    covers any of it, EXCLUDED otherwise. uint8 (N, h, w)."""
    out = np.full(anomaly.shape, EXCLUDED, dtype=np.uint8)
    clean = anomaly == 0
    out[clean & (foreground == 0)] = BACKGROUND
    out[clean & (foreground >= 0.5)] = FOREGROUND
    out[anomaly >= 0.5] = ANOMALY
    return out


def _psnr(mse: float) -> float:
    return float(10 * np.log10(1.0 / mse)) if mse > 0 else float("inf")


def region_errors(errors: np.ndarray, regions: np.ndarray) -> dict:
    """Mean error per region of (N, h, w) ``errors`` over the pixels that (N, h, w) ``regions`` assigns to it:
    ``{region}_mse`` and ``{region}_psnr`` (NaN where a region has no pixel), ``pixels`` per region, and
    ``gap_db`` = 10 log10(anomaly MSE / foreground MSE)."""
    out: dict = {"pixels": {}}
    for name, code in REGIONS.items():
        sel = regions == code
        n = int(sel.sum())
        mse = float(errors[sel].astype(np.float64).mean()) if n else float("nan")
        out[f"{name}_mse"], out[f"{name}_psnr"], out["pixels"][name] = mse, _psnr(mse) if n else float("nan"), n
    a, f = out["anomaly_mse"], out["foreground_mse"]
    out["gap_db"] = float(10 * np.log10(a / f)) if a > 0 and f > 0 else float("nan")
    return out


def read_region_masks(path: Path, names: list[str], lengths: list[int]) -> dict[str, np.ndarray]:
    """The uint8 (T, H, W) region maps of test videos ``names`` (``lengths`` frames each) from ``path``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            maps = {n: data[n] for n in names if n in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: unreadable region-mask archive ({exc.__class__.__name__})") from None
    wrong = [n for n, t in zip(names, lengths) if n not in maps or maps[n].ndim != 3 or len(maps[n]) != t]
    if wrong:
        raise DataError(f"{path}: videos {wrong} need (frames, H, W) region maps with one per frame")
    return maps


class MechanismScorer(pl.Callback):
    """Accumulates the test outputs ``error`` and ``input`` (B, h, w) of the scored frames, with ``video``
    and ``frame``; :meth:`compute` returns the ``mechanism`` entry of ``metrics.json`` (see the module).

    ``regions``: a :data:`REGION_FILE` (exact) or a pixel-mask ``.npz`` (anomaly masks; the foreground
    is then estimated). The model-resolution maps are read every ``stride``-th pixel, with ``stride`` the
    smallest that leaves at most ``max_side`` pixels per axis (1 up to 64x64 frames, 4 at 256x256).
    """

    def __init__(self, regions: str | Path, max_side: int = 64):
        self.path, self.max_side, self.stride = Path(regions), int(max_side), 1
        self.exact = self.path.name == Path(REGION_FILE).name
        self.data: dict[str, np.ndarray] | None = None
        self.size: tuple[int, int] | None = None  # the error maps' (h, w): the model's resolution
        self._parts: list[dict] = []

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._parts, self.data, self.size = [], None, None

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if "error" not in outputs or "input" not in outputs:
            raise DataError(f"{self.path}: the test step returns no error maps (build the module with error_maps=True)")
        if self.size is None:
            self.size = tuple(outputs["error"].shape[-2:])
            self.stride = max(1, -(-max(self.size) // self.max_side))
        s = self.stride
        self._parts.append({"error": outputs["error"][:, ::s, ::s].detach().half(),
                            "input": outputs["input"][:, ::s, ::s].detach().float().half(),
                            "video": outputs["video"].detach(), "frame": outputs["frame"].detach()})

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self.data = gather_unique(pl_module, self._parts, ("error", "input", "video", "frame"))
        self._parts = []

    def _coverages(self, names: list[str], lengths: list[int], size: tuple[int, int]):
        """Per gathered frame: the covered fractions of anomaly and of normal foreground at ``size``."""
        data, s = self.data, self.stride
        if self.exact:
            maps = read_region_masks(self.path, names, lengths)
            anomaly = {n: coverage(m == ANOMALY, size) for n, m in maps.items()}
            objects = {n: coverage(m == FOREGROUND, size) for n, m in maps.items()}
            pick = lambda d: np.stack([d[names[v]][f, ::s, ::s] for v, f in zip(data["video"], data["frame"])])  # noqa: E731
            return pick(anomaly), pick(objects)
        masks = load_pixel_masks(self.path, names, lengths)
        cover = {n: coverage(m, size) for n, m in masks.items()}
        anomaly = np.stack([cover[names[v]][f, ::s, ::s] for v, f in zip(data["video"], data["frame"])])
        moving = estimate_foreground(data["input"], data["video"]).astype(np.float32)
        return anomaly, moving

    def compute(self, names: list[str], lengths: list[int]) -> dict:
        """``{"mechanism": {...}}`` for test videos ``names`` (``lengths`` frames each): the pooled region
        errors, the same per video, the rules and the source of the masks."""
        data = self.data
        anomaly, foreground = self._coverages(names, lengths, self.size)
        regions = region_maps(anomaly, foreground)
        errors = data["error"].astype(np.float32)
        pooled = region_errors(errors, regions)
        per_video = {names[v]: region_errors(errors[data["video"] == v], regions[data["video"] == v])
                     for v in np.unique(data["video"])}
        log.info("mechanism: reconstruction error anomaly %.5f, foreground %.5f, background %.5f (gap %.2f dB)",
                 pooled["anomaly_mse"], pooled["foreground_mse"], pooled["background_mse"], pooled["gap_db"])
        return {"mechanism": {**pooled, "per_video": per_video, "masks": str(self.path),
                              "foreground_rule": EXACT_RULE if self.exact else FOREGROUND_RULE,
                              "rule": MECHANISM_RULE.format(stride=self.stride)}}
