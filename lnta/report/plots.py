"""PNG plots of a test run: per-video score curves against the ground truth, and the ROC."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lnta.data.sampling import runs  # noqa: E402
from lnta.io import atomic_path  # noqa: E402


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def _shade_intervals(ax, frames: np.ndarray, labels: np.ndarray) -> None:
    for start, stop in runs(labels):
        ax.axvspan(frames[start], frames[stop - 1], color="tab:red", alpha=0.2, lw=0)


def plot_video_scores(path: Path, videos, frames, scores, labels, names) -> None:
    """One panel per video: anomaly score over frames, ground-truth anomalies shaded."""
    cols = min(4, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.4 * rows), squeeze=False)
    for ax, (v, name) in zip(axes.flat, enumerate(names)):
        sel = videos == v
        _shade_intervals(ax, frames[sel], labels[sel])
        ax.plot(frames[sel], scores[sel], lw=1)
        ax.set(title=f"video {name}", ylim=(-0.02, 1.02), xlabel="frame", ylabel="anomaly score")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    _save(fig, path)


def plot_roc(path: Path, fpr: np.ndarray, tpr: np.ndarray, auc: float) -> None:
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr, label=f"micro AUC = {auc:.4f}")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title="frame-level ROC")
    ax.legend(loc="lower right")
    _save(fig, path)


def plot_score_timeline(path: Path, name: str, frames, minmax, calibrated=None, threshold=None,
                        intervals=()) -> None:
    """One video's scores over time: the calibrated score with its threshold and flagged intervals
    shaded (when the checkpoint is calibrated), and the reference per-video min-max score."""
    panels = 2 if calibrated is not None else 1
    fig, axes = plt.subplots(panels, 1, figsize=(9, 2.4 * panels), sharex=True, squeeze=False)
    axes = axes[:, 0]
    if calibrated is not None:
        ax = axes[0]
        for start, stop in intervals:
            ax.axvspan(start - 0.5, stop + 0.5, color="tab:red", alpha=0.2, lw=0)
        ax.plot(frames, calibrated, lw=1, label="calibrated score")
        if threshold is not None:
            ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold {threshold:.2f}")
        ax.set(title=f"{name}: flagged frames shaded", ylabel="z vs normal PSNR")
        ax.legend(loc="upper left", fontsize=8)
    if minmax is not None:
        axes[-1].plot(frames, minmax, lw=1, color="tab:gray")
        axes[-1].set(ylim=(-0.02, 1.02), ylabel="per-video min-max")
    axes[0].set_title(axes[0].get_title() or name)
    axes[-1].set_xlabel("frame")
    fig.tight_layout()
    _save(fig, path)


def plot_curves(path: Path, curves: dict, xlabel: str, ylabel: str, title: str = "",
                hlines: dict | None = None, categorical: bool = False) -> None:
    """Lines ``label -> (x, y[, yerr])`` against one axis, plus horizontal reference lines ``label -> y``."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for label, (x, y, *err) in curves.items():
        pos = np.arange(len(x)) if categorical else np.asarray(x, dtype=float)
        ax.errorbar(pos, y, yerr=err[0] if err else None, marker="o", ms=3, capsize=3, label=label)
        if categorical:
            ax.set_xticks(pos, [str(v) for v in x], rotation=30)
    for (label, y), style in zip((hlines or {}).items(), ["--", ":", "-."] * 4):
        ax.axhline(y, color="k", ls=style, lw=1, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def minmax_display(errors: np.ndarray) -> np.ndarray:
    """Error maps (N, H, W) scaled per map to [0, 1] for display (min-max; a constant map shows 0)."""
    errors = np.asarray(errors, np.float64)
    lo, hi = errors.min(axis=(1, 2), keepdims=True), errors.max(axis=(1, 2), keepdims=True)
    return (errors - lo) / np.maximum(hi - lo, 1e-12)


def plot_heatmaps(path: Path, inputs: np.ndarray, recons: np.ndarray, errors: np.ndarray, titles) -> None:
    """The paper's Fig. 6: per column a frame (in [-1, 1]), its reconstruction and its error map
    (:func:`lnta.metrics.protocol.error_map`), shown min-max scaled per map."""
    n = len(inputs)
    errors = minmax_display(errors)
    fig, axes = plt.subplots(3, n, figsize=(2.2 * n, 6.6), squeeze=False)
    for i in range(n):
        for row, (image, cmap, vmin) in enumerate([(inputs[i], "gray", -1), (recons[i], "gray", -1),
                                                   (errors[i], "jet", 0)]):
            axes[row, i].imshow(image, cmap=cmap, vmin=vmin, vmax=1)
            axes[row, i].axis("off")
        axes[0, i].set_title(titles[i], fontsize=8)
    for row, label in enumerate(["input", "reconstruction", "error (min-max)"]):
        axes[row, 0].text(-0.05, 0.5, label, transform=axes[row, 0].transAxes, rotation=90, ha="right", va="center")
    fig.tight_layout()
    _save(fig, path)
