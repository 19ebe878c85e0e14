"""Dashboards: the run's hyperparameters for every logger, and test media for W&B.

During testing, keeps the input, reconstruction and error map (:func:`lnta.metrics.protocol.error_map`)
of the highest-scoring frame of each of the first ``heatmaps`` test videos, from the test-step
outputs (the module is built with ``error_maps=True``; no second forward pass). The highest
min-max score of a video is its lowest PSNR (ties: the earliest frame). :meth:`Dashboard.write`
then writes ``heatmaps.png`` (the paper's Fig. 6) and, when a W&B logger is given, logs it with the
per-video score curves (ground truth shaded), the ROC and a table of per-frame scores.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf

from lnta.reporting.plots import error_map_image, minmax_display, plot_heatmaps

log = logging.getLogger(__name__)

#: The test-step outputs a heatmap column shows: the scored frame, its reconstruction, its error map.
MAP_KEYS = ("input", "reconstruction", "error")


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


class Dashboard(pl.Callback):
    """Logs the module's run config as hyperparameters at fit start; collects the heatmaps while
    testing; :meth:`write` writes and logs the test media."""

    def __init__(self, output_dir: str, heatmaps: int = 6):
        self.output_dir, self.heatmaps = Path(output_dir), heatmaps
        self.picks: dict[int, tuple] = {}

    def on_fit_start(self, trainer, pl_module) -> None:
        if pl_module.config:
            for logger in trainer.loggers:
                logger.log_hyperparams(flat_hparams(OmegaConf.to_container(OmegaConf.create(pl_module.config))))

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self.picks = {}

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if not self.heatmaps or not all(k in outputs for k in MAP_KEYS):
            return
        psnr, video, frame = (outputs[k].detach().cpu() for k in ("psnr", "video", "frame"))
        for i in torch.nonzero(video < self.heatmaps).flatten().tolist():
            v, key = int(video[i]), (float(psnr[i]), int(frame[i]))
            if v not in self.picks or key < self.picks[v][0]:
                self.picks[v] = (key, *(outputs[k][i].detach().float().cpu() for k in MAP_KEYS))

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        if trainer.world_size > 1 and self.heatmaps:
            self.picks = self._gather(pl_module)

    def _gather(self, pl_module) -> dict[int, tuple]:
        """The picks of all ranks: per video, the one of lowest (PSNR, frame)."""
        n = self.heatmaps
        shape = next(iter(self.picks.values()))[1].shape if self.picks else (1, 1)
        psnr, frame = torch.full((n,), float("inf")), torch.full((n,), 2**62, dtype=torch.int64)
        maps = torch.zeros(n, len(MAP_KEYS), *shape)
        for v, ((p, f), *m) in self.picks.items():
            psnr[v], frame[v], maps[v] = p, f, torch.stack(m)
        device = pl_module.device
        psnr, frame, maps = (pl_module.all_gather(t.to(device)).cpu() for t in (psnr, frame, maps))
        picks = {}
        for v in range(n):
            candidates = [(float(psnr[r, v]), int(frame[r, v]), r) for r in range(len(psnr)) if frame[r, v] < 2**62]
            if candidates:
                p, f, r = min(candidates)
                picks[v] = ((p, f), *maps[r, v])
        return picks

    def write(self, results: dict, names: list[str], loggers=()) -> None:
        """Write ``heatmaps.png`` of the collected picks and log the test media to a W&B logger
        among ``loggers``; ``results`` are the frame scorer's per-frame results, ``names[v]`` the
        name of test video ``v``."""
        if not self.picks:
            return
        picks = [self.picks[v] for v in sorted(self.picks)]
        x, r, e = (np.stack([p[1 + k].numpy() for p in picks]) for k in range(len(MAP_KEYS)))
        titles = [f"video {names[v]} frame {self.picks[v][0][1]}" for v in sorted(self.picks)]
        plot_heatmaps(self.output_dir / "heatmaps.png", x, r, e, titles)
        log.info("heatmaps of %s -> %s", ", ".join(titles), self.output_dir / "heatmaps.png")
        wandb_logger = next((lg for lg in loggers if type(lg).__name__ == "WandbLogger"), None)
        if wandb_logger is not None:
            self._log_wandb(wandb_logger, results, names, minmax_display(e), titles)

    def _log_wandb(self, logger, frames: dict, names, e, titles) -> None:
        import wandb

        out = self.output_dir
        images = {"test/heatmaps": wandb.Image(str(out / "heatmaps.png"), caption="input | reconstruction | error"),
                  "test/error_maps": [wandb.Image(error_map_image(e[i], t), caption=t) for i, t in enumerate(titles)]}
        for key, name in (("test/score_curves", "scores.png"), ("test/roc", "roc.png")):
            if (out / name).is_file():
                images[key] = wandb.Image(str(out / name))
        rows = [[names[v], int(f), float(p), float(s), int(y)]
                for v, f, p, s, y in zip(frames["video"], frames["frame"], frames["psnr"], frames["score"],
                                         frames["label"])]
        table = wandb.Table(columns=["video", "frame", "psnr", "score", "label"], data=rows)
        logger.experiment.log({**images, "test/frame_scores": table})
