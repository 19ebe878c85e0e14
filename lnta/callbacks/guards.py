"""Numerical guard: a NaN or infinite training loss stops the run before it spoils any weights."""
from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch

from lnta.errors import LntaError


class TrainingDiverged(LntaError):
    """The training loss stopped being a finite number."""


class FiniteLoss(pl.Callback):
    """Stop with a one-line error naming the step when the loss is NaN or infinite.

    It runs before the backward pass, so neither the optimizer step nor any checkpoint sees the
    bad values: the last checkpoint on disk is the last good one. All ranks agree before raising.
    """

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor) -> None:
        finite = bool(torch.isfinite(loss.detach()).all())
        if trainer.strategy.reduce_boolean_decision(finite, all=True):
            return
        dirpath = Path(trainer.default_root_dir) / "checkpoints"
        raise TrainingDiverged(
            f"step {trainer.global_step} (epoch {trainer.current_epoch}): the training loss is "
            f"{float(loss.detach().float().mean())}; stopped before the update. Last good checkpoint: "
            f"{dirpath / 'last.ckpt'}; lower optimizer.lr or check the data, then resume with ckpt_path=last")
