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


GT_COLOR, GT_ALPHA = "tab:red", 0.2


def _shade_intervals(ax, frames: np.ndarray, labels: np.ndarray) -> None:
    for start, stop in runs(labels):
        ax.axvspan(frames[start], frames[stop - 1], color=GT_COLOR, alpha=GT_ALPHA, lw=0)


def plot_video_scores(path: Path, videos, frames, scores, labels, names, title: str | None = None) -> None:
    """One panel per video: anomaly score over frames, ground-truth anomalies shaded (in the legend);
    ``title`` (e.g. the run and its AUC) above all panels."""
    from matplotlib.patches import Patch

    cols = min(4, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.4 * rows + 0.6), squeeze=False)
    for ax, (v, name) in zip(axes.flat, enumerate(names)):
        sel = videos == v
        _shade_intervals(ax, frames[sel], labels[sel])
        ax.plot(frames[sel], scores[sel], lw=1)
        ax.set(title=f"video {name}", ylim=(-0.02, 1.02), xlabel="frame", ylabel="anomaly score")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    handles = [plt.Line2D([], [], lw=1, color="tab:blue", label="anomaly score (per-video min-max)"),
               Patch(color=GT_COLOR, alpha=GT_ALPHA, lw=0, label="ground truth: anomalous frames")]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
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
    shaded (when the checkpoint is calibrated), and the reference per-video min-max score (when given:
    a stream has none, its min and max are not known while it runs). One panel for each."""
    panels = (calibrated is not None) + (minmax is not None)
    if not panels:
        raise ValueError("plot_score_timeline: nothing to plot (no calibrated and no min-max scores)")
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


#: Line style, marker, marker face and z-order of the n-th curve: distinct, and earlier curves on top
#: (the report's ``last`` comes before ``oracle`` and must not hide under it).
CURVE_STYLES = [("-", "o", "full", 4), ("--", "s", "none", 3), (":", "^", "full", 2), ("-.", "D", "none", 1)]


def plot_curves(path: Path, curves: dict, xlabel: str, ylabel: str, title: str = "",
                hlines: dict | None = None, categorical: bool = False) -> None:
    """Lines ``label -> (x, y[, yerr])`` against one axis, plus horizontal reference lines ``label -> y``.

    Each curve has its own line style and marker (:data:`CURVE_STYLES`), the first on top; integer x
    values (epochs) get integer ticks."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    integer = not categorical
    for i, (label, (x, y, *err)) in enumerate(curves.items()):
        line, marker, face, order = CURVE_STYLES[i % len(CURVE_STYLES)]
        pos = np.arange(len(x)) if categorical else np.asarray(x, dtype=float)
        integer = integer and bool(np.all(pos == np.round(pos)))
        ax.errorbar(pos, y, yerr=err[0] if err else None, ls=line, marker=marker, fillstyle=face,
                    ms=5 if face == "full" else 9, capsize=3, label=label, zorder=order + 2)  # hollow ones ring the others
        if categorical:
            ax.set_xticks(pos, [str(v) for v in x], rotation=30)
    if integer:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for (label, y), style in zip((hlines or {}).items(), ["--", ":", "-."] * 4):
        ax.axhline(y, color="k", ls=style, lw=1, label=label, zorder=1)
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


def error_map_image(error: np.ndarray, title: str = "", cmap: str = "jet") -> np.ndarray:
    """An error map in [0, 1] (H, W) as an RGB uint8 picture (h, w, 3): the map in ``cmap`` with a
    colour bar from 0 to 1 and ``title`` above, for loggers that take images (W&B)."""
    fig, ax = plt.subplots(figsize=(3.2, 2.8), dpi=100)
    shown = ax.imshow(np.asarray(error, dtype=float), cmap=cmap, vmin=0, vmax=1)
    ax.set_title(title, fontsize=8)
    ax.axis("off")
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04).set_label("error (min-max)", fontsize=7)
    fig.tight_layout()
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image
