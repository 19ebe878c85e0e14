"""The callback that stores calibration statistics (:mod:`lnta.metrics.calibration`) in every checkpoint."""
from __future__ import annotations

import logging

import pytorch_lightning as pl

from lnta.metrics.calibration import CALIBRATION_KEY, calibrate

log = logging.getLogger(__name__)


class NormalCalibration(pl.Callback):
    """Stores calibration statistics of the current weights in every checkpoint and on the module.

    Computed from ``max_clips`` clips sampled from the *training* videos when a checkpoint is saved
    (once per optimizer step) and at the end of training. These frames were trained on, so their
    PSNRs are optimistic: the false-alarm rate on unseen normal video is higher than the target;
    ``metrics.json`` reports the rate actually measured on the test set's normal frames.
    """

    def __init__(self, max_clips: int = 512, batch_size: int = 16, seed: int = 0):
        self.max_clips, self.batch_size, self.seed = max_clips, batch_size, seed
        self._step: int | None = None

    def _stats(self, trainer, pl_module) -> dict:
        if self._step != trainer.global_step:
            dm = trainer.datamodule
            was_training = pl_module.training
            pl_module.eval()
            stats = calibrate(pl_module.model, dm.store("train"), dm.clip_len, pl_module.center,
                              self.max_clips, self.batch_size, pl_module.device, self.seed)
            pl_module.train(was_training)
            stats["source"] += f" at step {trainer.global_step}"
            pl_module.calibration = stats
            self._step = trainer.global_step
        return pl_module.calibration

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint[CALIBRATION_KEY] = self._stats(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        stats = self._stats(trainer, pl_module)
        log.info("calibration: normal PSNR %.2f +- %.2f dB over %d clips", stats["mean"], stats["std"], stats["n"])
