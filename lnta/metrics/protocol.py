"""The reference scoring protocol as pure functions: PSNR, per-video min-max, micro/macro AUC."""
from __future__ import annotations

import numpy as np
import torch

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


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC (label 1 = anomalous) by the rank statistic, ties counted half; NaN for one class."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels).astype(bool)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), np.float64)
    # average rank within ties
    unique, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct threshold, from (0, 0) to (1, 1)."""
    labels = np.asarray(labels).astype(bool)
    order = np.argsort(-np.asarray(scores, np.float64), kind="mergesort")
    s, y = np.asarray(scores)[order], labels[order]
    last_of_tie = np.r_[np.diff(s) != 0, True]
    tp, fp = np.cumsum(y)[last_of_tie], np.cumsum(~y)[last_of_tie]
    return np.r_[0, fp / max(fp[-1], 1)], np.r_[0, tp / max(tp[-1], 1)]


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
