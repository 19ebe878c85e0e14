"""Fault injectors for the fault-tolerance tests, added to a real CLI run as extra callbacks
(``+callbacks.kill._target_=tests.helpers.faults.KillAtStep +callbacks.kill.step=5``)."""
import math
import os
import signal

import pytorch_lightning as pl
import torch


class KillAtStep(pl.Callback):
    """SIGKILL this very process when optimizer step ``step`` is about to start: no cleanup runs."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class PoisonAtStep(pl.Callback):
    """Make every weight NaN before optimizer step ``step`` (a diverged model): the loss turns NaN."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            with torch.no_grad():
                for p in pl_module.parameters():
                    p.fill_(math.nan)


class PauseAtStep(pl.Callback):
    """Before optimizer step ``step``: create the file ``reached``, then wait (at most ``timeout`` s)
    until the file ``proceed`` exists. Holds a run in mid-training while a test does something else."""

    def __init__(self, step: int, reached: str, proceed: str, timeout: float = 300):
        self.step, self.reached, self.proceed, self.timeout = step, reached, proceed, timeout

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            import time
            from pathlib import Path
            Path(self.reached).touch()
            deadline = time.monotonic() + self.timeout
            while not Path(self.proceed).exists() and time.monotonic() < deadline:
                time.sleep(0.1)


class DiskFullAtStep(pl.Callback):
    """From optimizer step ``step`` on, every ``torch.save`` writes a few bytes and then fails with
    ``OSError(ENOSPC)``, as on a file system that just filled up."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            import errno

            def full(obj, f, *args, **kwargs):
                with open(f, "wb") as out:
                    out.write(b"PK\x03\x04 partial")
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            torch.save = full


class KillAtEpochEnd(pl.Callback):
    """SIGKILL this very process at the end of epoch ``epoch``, after the step checkpoint of its last
    batch and before the epoch-end checkpoints (Lightning runs checkpoint callbacks last)."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)
