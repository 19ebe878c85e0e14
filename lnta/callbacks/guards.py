"""Numerical guards: a NaN or infinite training loss, or weights that stop being finite numbers,
stop the run (naming the step) before the bad values reach a checkpoint or a test score."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from lnta.errors import ConfigError, LntaError


class TrainingDiverged(LntaError):
    """The training loss or the weights stopped being finite numbers."""


def _last_good(trainer: pl.Trainer) -> str:
    last = Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt"
    return f"last good checkpoint: {last}" if last.is_file() else "no checkpoint was written"


class FiniteLoss(pl.Callback):
    """Stop with a one-line error naming the step when the loss is NaN or infinite.

    It runs before the backward pass, so neither the optimizer step nor any checkpoint sees the
    bad values: the last checkpoint on disk is the last good one. All ranks agree before raising.
    """

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor) -> None:
        finite = bool(torch.isfinite(loss.detach()).all())
        if trainer.strategy.reduce_boolean_decision(finite, all=True):
            return
        raise TrainingDiverged(
            f"step {trainer.global_step} (epoch {trainer.current_epoch}): the training loss is "
            f"{float(loss.detach().float().mean())}; stopped before the update; "
            f"{_last_good(trainer)}. Lower optimizer.lr or check the data, then resume with ckpt_path=last")


def first_bad_tensor(module: torch.nn.Module, max_abs: float | None = None) -> tuple[str, float] | None:
    """``(name, largest |value|)`` of the first parameter or buffer (e.g. BatchNorm's running
    variance) that holds a NaN, an infinity or (``max_abs``) a value above ``max_abs``; None if all
    are fine. One device-to-host copy for the whole model."""
    named = [(n, t) for n, t in (*module.named_parameters(), *module.named_buffers())
             if t.is_floating_point() and t.numel()]
    if not named:
        return None
    largest = torch.stack([t.detach().abs().amax().float() for _, t in named]).cpu().numpy()
    bad = ~np.isfinite(largest) | ((largest > max_abs) if max_abs is not None else False)
    if not bad.any():
        return None
    i = int(np.flatnonzero(bad)[0])
    return named[i][0], float(largest[i])


class FiniteWeights(pl.Callback):
    """Stop with a one-line error when a weight or buffer is no longer a finite number.

    The loss of a step can be finite while its update makes the weights NaN (``optimizer.lr=inf``)
    or explode until BatchNorm's running statistics overflow (``optimizer.lr=1e10``); the loss
    guard cannot see that. This check runs every ``every_n_steps`` optimizer steps (one reduction
    per tensor, one host copy), and always before a checkpoint is written and before the test, so
    no checkpoint and no score is ever made from such weights.

    Args:
        every_n_steps: optimizer steps between checks (>= 1).
        max_abs: a weight or buffer whose magnitude exceeds this counts as exploded (null: only
            NaN and infinity count).
    """

    def __init__(self, every_n_steps: int = 50, max_abs: float | None = 1.0e6):
        if int(every_n_steps) < 1:
            raise ConfigError(f"callbacks.finite_weights.every_n_steps={every_n_steps}: expected an integer >= 1")
        self.every_n_steps, self.max_abs = int(every_n_steps), max_abs
        self._checked_step = 0

    def check(self, trainer: pl.Trainer, pl_module: pl.LightningModule, when: str) -> None:
        bad = first_bad_tensor(pl_module, self.max_abs)
        if trainer.strategy.reduce_boolean_decision(bad is None, all=True):
            self._checked_step = trainer.global_step
            return
        name, value = bad if bad is not None else ("a weight on another rank", float("nan"))
        what = "is not finite" if not np.isfinite(value) else f"exceeds max_abs={self.max_abs:g}"
        raise TrainingDiverged(
            f"step {trainer.global_step} (epoch {trainer.current_epoch}, {when}): the weights diverged: "
            f"'{name}' {what} (|value| up to {value:g}; last check passed at step {self._checked_step}); "
            f"nothing was saved from them; {_last_good(trainer)}. Lower optimizer.lr")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if step != self._checked_step and step % self.every_n_steps == 0:
            self.check(trainer, pl_module, "periodic check")

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        self.check(trainer, pl_module, "before saving a checkpoint")

    def on_train_end(self, trainer, pl_module) -> None:
        self.check(trainer, pl_module, "end of training")
