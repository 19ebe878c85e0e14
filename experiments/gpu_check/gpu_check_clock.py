"""A Lightning callback for the GPU check: wall-clock times of a training run, and a time budget.

Added to a ``python -m lnta.train`` run by the check with Hydra overrides
(``+callbacks.gpu_check_clock._target_=gpu_check_clock.EpochClock``, this folder on ``PYTHONPATH``).
It writes ``<trainer.default_root_dir>/gpu_check_clock.json`` at the end of fit:

- ``epochs``: per epoch its batches, clips, ``seconds`` (epoch start to epoch end: its batches) and
  ``after_s`` (epoch end to the next epoch's start: checkpoint saves, calibration, other epoch-end work);
- ``steady_clips_per_s``: clips per second from the end of batch ``warmup_batches`` (after cuDNN
  autotuning and first allocations) to the end of the last batch (the last of an epoch, or the one
  that reaches ``trainer.max_steps``); epoch-end work in between is included;
- ``frames_device``: where ``data.on_device`` put the training frames (``null``: on the host) and
  ``root_device``, ``strategy``: the trainer's device and strategy class.

With ``budget_s`` it stops training at the end of the first epoch after which one more epoch of the
same length would end later than ``budget_s`` seconds after the start of fit (data loading before fit
not counted). Timings synchronise the CUDA device where the model lives.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

CLOCK_FILE = "gpu_check_clock.json"


class EpochClock(pl.Callback):
    """Epoch and batch wall times of one fit, and an optional time budget (seconds)."""

    def __init__(self, budget_s: float | None = None, warmup_batches: int = 10):
        self.budget_s, self.warmup_batches = budget_s, warmup_batches

    @staticmethod
    def _now(pl_module: pl.LightningModule) -> float:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        return time.perf_counter()

    def on_train_start(self, trainer, pl_module):
        self.start = self._now(pl_module)
        self.batches = self.clips = 0
        self.warm: tuple[float, int] | None = None
        self.last: tuple[float, int] | None = None
        self.epochs: list[dict] = []
        self.stopped_by_budget = False
        frames = getattr(trainer.datamodule, "device_frames", None)
        self.frames_device = str(frames.device) if frames is not None else None

    def on_train_epoch_start(self, trainer, pl_module):
        now = self._now(pl_module)
        if self.epochs:
            self.epochs[-1]["after_s"] = now - self.epochs[-1]["end"]
        self.epochs.append({"epoch": trainer.current_epoch, "start": now, "batches": 0, "clips": 0})

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        clips = len(batch["clip"]) if isinstance(batch, dict) and "clip" in batch else trainer.datamodule.batch_size
        self.batches += 1
        self.clips += clips
        self.epochs[-1]["batches"] += 1
        self.epochs[-1]["clips"] += clips
        if self.batches == self.warmup_batches:
            self.warm = (self._now(pl_module), self.clips)
        elif self.warm is not None and (batch_idx + 1 == trainer.num_training_batches
                                        or 0 < trainer.max_steps <= trainer.global_step):
            self.last = (self._now(pl_module), self.clips)

    def on_train_epoch_end(self, trainer, pl_module):
        now = self._now(pl_module)
        epoch = self.epochs[-1]
        epoch["end"], epoch["seconds"] = now, now - epoch["start"]
        if self.budget_s is not None and (now - self.start) + epoch["seconds"] > self.budget_s:
            trainer.should_stop = True
            self.stopped_by_budget = True

    def on_train_end(self, trainer, pl_module):
        end = self._now(pl_module)
        if self.epochs and "end" in self.epochs[-1]:
            self.epochs[-1]["after_s"] = end - self.epochs[-1]["end"]
        steady = None
        if self.warm is not None and self.last is not None:
            steady = (self.last[1] - self.warm[1]) / (self.last[0] - self.warm[0])
        if not trainer.is_global_zero:
            return
        record = {
            "budget_s": self.budget_s, "warmup_batches": self.warmup_batches, "fit_s": end - self.start,
            "batches": self.batches, "clips": self.clips, "steady_clips_per_s": steady,
            "stopped_by_budget": self.stopped_by_budget, "frames_device": self.frames_device,
            "root_device": str(trainer.strategy.root_device), "strategy": type(trainer.strategy).__name__,
            "epochs": [{k: v for k, v in e.items() if k not in ("start", "end")} for e in self.epochs],
        }
        path = Path(trainer.default_root_dir) / CLOCK_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2) + "\n")
