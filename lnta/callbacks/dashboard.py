"""Dashboards: the run's hyperparameters for every logger, and test media for W&B.

After testing, writes ``heatmaps.png`` (the paper's Fig. 6: input, reconstruction and the
min-max normalised squared error of the scored frame, for the highest-scoring frame of each
test video) and, when a W&B logger is attached, logs it with the per-video score curves
(ground truth shaded), the ROC and a table of per-frame scores.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf

from lnta.data.transforms import to_unit
from lnta.metrics.frame_scorer import FrameScorer
from lnta.report.plots import error_map_image, plot_heatmaps

log = logging.getLogger(__name__)


def flat_hparams(config: dict) -> dict:
    """The run config flattened to ``a.b.c`` keys (lists as strings), for parallel-coordinates views."""
    flat = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = str(node) if isinstance(node, (list, tuple)) else node

    walk(config, "")
    return flat


def error_maps(module, clips: torch.Tensor, center: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Input, reconstruction (in [-1, 1]) and min-max normalised squared error of frame ``center``."""
    with torch.no_grad():
        inputs = to_unit(clips.to(module.device))
        recon = module(inputs).float()
    x, r = inputs[:, 0, center].float().cpu().numpy(), recon[:, 0, center].cpu().numpy()
    err = (r - x) ** 2
    lo, hi = err.min(axis=(1, 2), keepdims=True), err.max(axis=(1, 2), keepdims=True)
    return x, r, (err - lo) / np.maximum(hi - lo, 1e-12)


class Dashboard(pl.Callback):
    """Logs the config as hyperparameters at fit start; writes and logs the test media at test end."""

    def __init__(self, output_dir: str, heatmaps: int = 6):
        self.output_dir, self.heatmaps = Path(output_dir), heatmaps

    def on_fit_start(self, trainer, pl_module) -> None:
        config = getattr(pl_module, "lnta_config", None)
        if config:
            for logger in trainer.loggers:
                logger.log_hyperparams(flat_hparams(OmegaConf.to_container(OmegaConf.create(config))))

    def _pick(self, frames: dict) -> list[tuple[int, int]]:
        """(video, frame) of the highest-scoring frame of each video, at most ``heatmaps`` of them."""
        picks = []
        for v in np.unique(frames["video"])[: self.heatmaps]:
            sel = np.flatnonzero(frames["video"] == v)
            picks.append((int(v), int(frames["frame"][sel[np.argmax(frames["score"][sel])]])))
        return picks

    def on_test_end(self, trainer, pl_module) -> None:
        scorer = next((c for c in trainer.callbacks if isinstance(c, FrameScorer)), None)
        if scorer is None or scorer.frames is None or not trainer.is_global_zero or not self.heatmaps:
            return
        frames, test_set = scorer.frames, trainer.datamodule.test_set
        picks = self._pick(frames)
        index = {(int(v), int(s) + test_set.center): i for i, (v, s) in enumerate(zip(test_set.videos, test_set.starts))}
        clips = torch.stack([test_set[index[p]]["clip"] for p in picks])
        was_training = pl_module.training
        pl_module.eval()
        x, r, e = error_maps(pl_module, clips, test_set.center)
        pl_module.train(was_training)
        titles = [f"video {frames['names'][v]} frame {f}" for v, f in picks]
        plot_heatmaps(self.output_dir / "heatmaps.png", x, r, e, titles)
        wandb_logger = next((lg for lg in trainer.loggers if type(lg).__name__ == "WandbLogger"), None)
        if wandb_logger is not None:
            self._log_wandb(wandb_logger, frames, x, r, e, titles)

    def _log_wandb(self, logger, frames: dict, x, r, e, titles) -> None:
        import wandb

        out = self.output_dir
        images = {"test/heatmaps": wandb.Image(str(out / "heatmaps.png"), caption="input | reconstruction | error"),
                  "test/error_maps": [wandb.Image(error_map_image(e[i], t), caption=t) for i, t in enumerate(titles)]}
        for key, name in (("test/score_curves", "scores.png"), ("test/roc", "roc.png")):
            if (out / name).is_file():
                images[key] = wandb.Image(str(out / name))
        rows = [[frames["names"][v], int(f), float(p), float(s), int(y)]
                for v, f, p, s, y in zip(frames["video"], frames["frame"], frames["psnr"], frames["score"],
                                         frames["label"])]
        table = wandb.Table(columns=["video", "frame", "psnr", "score", "label"], data=rows)
        logger.experiment.log({**images, "test/frame_scores": table})
