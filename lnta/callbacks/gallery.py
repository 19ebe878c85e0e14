"""Pictures of what the AE is taught: a normal clip beside its pseudo anomalies (the paper's Fig. 3)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402

from lnta.anomaly.base import PseudoAnomaly  # noqa: E402
from lnta.anomaly.skip import SkipFrame  # noqa: E402
from lnta.data.transforms import to_unit  # noqa: E402
from lnta.io import atomic_path  # noqa: E402

log = logging.getLogger(__name__)


def _label(anomaly: PseudoAnomaly, batch: dict, sample: int) -> str:
    """The type's name; a skip-frame row also says the skip ``s`` drawn for this clip."""
    if isinstance(anomaly, SkipFrame) and "skip" in batch:
        return f"{anomaly.name}\ns={int(batch['skip'][sample])}"
    return anomaly.name


@torch.no_grad()
def pseudo_examples(anomalies: Sequence[PseudoAnomaly], batch: dict, sample: int = 0) -> list[tuple[str, np.ndarray]]:
    """``[(label, frames (T, H, W) in [-1, 1])]``: the normal clip ``sample``, then each type applied to it."""
    clips = to_unit(batch["clip"])
    index = torch.tensor([sample], device=clips.device)
    rows = [("normal", clips[sample, 0])]
    rows += [(_label(a, batch, sample), a(clips, batch, index)[0][0, 0]) for a in anomalies]
    return [(label, frames.float().cpu().numpy()) for label, frames in rows]


def frame_columns(length: int, count: int = 4) -> list[int]:
    """``count`` evenly spaced frame indices of a clip, first and last included."""
    return sorted({int(round(i)) for i in np.linspace(0, length - 1, count)})


def save_grid(path: Path, rows: list[tuple[str, np.ndarray]], frames: Sequence[int] | None = None,
              title: str | None = None) -> Path:
    """One row per clip, one column per frame index, grey levels [-1, 1]; written atomically as PNG."""
    frames = list(frames) if frames else frame_columns(len(rows[0][1]))
    fig, axes = plt.subplots(len(rows), len(frames), figsize=(1.9 * len(frames), 1.9 * len(rows)), squeeze=False)
    for r, (label, clip) in enumerate(rows):
        for c, t in enumerate(frames):
            ax = axes[r, c]
            ax.imshow(clip[min(t, len(clip) - 1)], cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"frame {t}", fontsize=9)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    if title:  # tight_layout ignores a suptitle: keep a band of 0.3 inch for it above the column headers
        fig.suptitle(title, fontsize=10, y=1 - 0.06 / fig.get_figheight(), va="top")
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))
    else:
        fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return Path(path)


class PseudoAnomalyImages(pl.Callback):
    """At the first training batch, draw the enabled pseudo anomalies of one of its clips.

    Writes ``<dirpath>/pseudo_anomalies.png`` and logs it to every logger that takes images
    (W&B: ``pseudo_anomalies``). The torch RNG is forked, so training draws are unchanged.
    """

    def __init__(self, dirpath: str, frames: Sequence[int] | None = None):
        self.path = Path(dirpath) / "pseudo_anomalies.png"
        self.frames = list(frames) if frames else None
        self.done = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.done or not len(pl_module.anomalies) or not trainer.is_global_zero:
            return
        self.done = True
        device = batch["clip"].device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            rows = pseudo_examples(pl_module.anomalies, batch)
        save_grid(self.path, rows, self.frames, title="pseudo anomalies at the start of training")
        log.info("pseudo-anomaly examples -> %s", self.path)
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):
                logger.log_image(key="pseudo_anomalies", images=[str(self.path)])
