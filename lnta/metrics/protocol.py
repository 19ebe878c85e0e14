"""The reference scoring protocol as pure functions: PSNR, error maps, per-video min-max, micro/macro AUC.

ROC curves and AUCs come from torchmetrics (exact, unbinned), computed in float64.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from lnta.errors import DataError

#: Name recorded in metrics.json for the reference protocol (no padding, 9th frame, min-max per video).
REFERENCE_PROTOCOL = "reference: 16-frame clips, 9th frame scored, no padding, per-video min-max"


def psnr_from_mse(mse: torch.Tensor) -> torch.Tensor:
    """``10 log10(1 / mse)`` (peak 1, frames in [-1, 1] units as the reference)."""
    return 10 * torch.log10(1.0 / mse)


def frame_psnr(reconstruction: torch.Tensor, target: torch.Tensor, frame: int) -> torch.Tensor:
    """PSNR of frame ``frame`` of each clip (B, C, T, H, W), computed in float32: (B,)."""
    diff = reconstruction[:, :, frame].float() - target[:, :, frame].float()
    return psnr_from_mse(diff.pow(2).flatten(1).mean(1))


def minmax_anomaly_scores(psnr: np.ndarray, videos: np.ndarray) -> np.ndarray:
    """Per video: ``1 - (P - min P) / (max P - min P)``. A video of constant PSNR scores 0."""
    scores = np.zeros(len(psnr), dtype=np.float64)
    for v in np.unique(videos):
        sel = videos == v
        p = psnr[sel].astype(np.float64)
        span = p.max() - p.min()
        scores[sel] = 1.0 - (p - p.min()) / span if span > 0 else 0.0
    return scores


def error_map(reconstruction: torch.Tensor, target: torch.Tensor, frame: int) -> torch.Tensor:
    """The reconstruction error map of frame ``frame`` of each clip (B, C, T, H, W): the squared
    error averaged over channels, float32, (B, H, W) in squared [-1, 1] units. The one definition
    used by the pixel-level AUC, the heatmaps and the stream scorer; display scaling is the plot's job."""
    diff = reconstruction[:, :, frame].float() - target[:, :, frame].float()
    return diff.pow(2).mean(1)


def score_clips(forward, clips: torch.Tensor, center: int, maps: bool = False) -> dict[str, torch.Tensor]:
    """The one inference step of testing, calibration and stream scoring: reconstruct ``clips``
    (B, C, T, H, W) in [-1, 1] with ``forward`` and score frame ``center`` of each clip.

    Returns ``psnr`` (B,) (:func:`frame_psnr`); with ``maps`` also ``error`` (B, H, W)
    (:func:`error_map`), ``input`` and ``reconstruction`` (B, H, W; channel 0 of the scored frame, float32).
    Autocast, if any, is the caller's (Lightning's precision plugin in ``test_step``)."""
    reconstruction = forward(clips)
    out = {"psnr": frame_psnr(reconstruction, clips, center)}
    if maps:
        out.update(error=error_map(reconstruction, clips, center), input=clips[:, 0, center].float(),
                   reconstruction=reconstruction[:, 0, center].float())
    return out


@contextmanager
def _float64():
    # torchmetrics counts true/false positives in the default float dtype; float64 keeps the
    # AUC exact to ~1e-16 (float32 would round it at ~1e-7).
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _ranked(scores: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores as dense ranks scaled into [0, 1] (same order and ties; torchmetrics would apply a
    sigmoid to scores outside [0, 1]), and labels as int64 tensors."""
    _, dense = np.unique(np.asarray(scores, np.float64), return_inverse=True)
    ranks = dense.reshape(-1) / max(int(dense.max(initial=0)), 1)
    return torch.from_numpy(ranks.astype(np.float64)), torch.from_numpy(np.asarray(labels).astype(np.int64).reshape(-1))


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC (label 1 = anomalous), ties counted half, by torchmetrics' ``binary_auroc``
    (unbinned); NaN when only one class is present."""
    from torchmetrics.functional.classification import binary_auroc

    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        return float("nan")
    with _float64():
        return float(binary_auroc(*_ranked(scores, labels), validate_args=False))


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct threshold, from (0, 0) to (1, 1)
    (torchmetrics' ``binary_roc``, unbinned)."""
    from torchmetrics.functional.classification import binary_roc

    with _float64():
        fpr, tpr, _ = binary_roc(*_ranked(scores, labels), validate_args=False)
    return fpr.numpy(), tpr.numpy()


def frame_level_metrics(scores: np.ndarray, labels: np.ndarray, videos: np.ndarray,
                        names: list[str] | None = None) -> dict:
    """Micro AUC over all frames, macro AUC over the videos that contain both classes.

    ``auc_per_video`` is keyed by video name (``names[v]`` for video index ``v``; the index as a
    string without ``names``); a single-class video's AUC is NaN (written as ``null``).
    """
    per_video = {(names[int(v)] if names is not None else str(v)): roc_auc(scores[videos == v], labels[videos == v])
                 for v in np.unique(videos)}
    defined = [a for a in per_video.values() if not np.isnan(a)]
    return {
        "auc_micro": roc_auc(scores, labels),
        "auc_macro": float(np.mean(defined)) if defined else float("nan"),
        "auc_macro_rule": "mean over videos containing both classes; single-class videos skipped",
        "auc_macro_videos": len(defined),
        "auc_per_video": per_video,
    }


def check_finite_psnr(psnr: np.ndarray, names: list[str], videos: np.ndarray, frames: np.ndarray,
                      where: str) -> None:
    """Refuse per-frame PSNRs (dB) that are NaN or infinite: min-max scores and AUCs of them mean
    nothing. Raises :class:`DataError` naming ``where`` (the checkpoint), the count and the first frame."""
    bad = ~np.isfinite(np.asarray(psnr, np.float64))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{where}: {int(bad.sum())} of {len(bad)} frames have a non-finite PSNR (first: video "
                        f"{names[int(videos[i])]} frame {int(frames[i])}, {psnr[i]}); the model's weights are "
                        "broken (diverged training), so no AUC or score is computed from them")
