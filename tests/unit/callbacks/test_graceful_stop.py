"""A signal at any moment of a fit stops it the same way: last.ckpt saved, resume command, exit 128 + signal.

The signals are sent by the process to itself from inside a hook, so where they land is exact (no timing).
Before this test existed, a SIGTERM landing after GracefulStop's check of a step (or at an epoch end)
reached Lightning's own SIGTERMException: a ``SystemExit`` without a code, i.e. exit 0 and no last.ckpt.
"""
from __future__ import annotations

import os
import signal

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.demos.boring_classes import BoringModel

from lnta.callbacks.progress import GracefulStop, Interrupted
from lnta.cli._entry import clear_errors

STEPS_PER_EPOCH, EPOCHS = 3, 2


class SendSignal(pl.Callback):
    """Sends ``signum`` to this process once, in ``hook`` at optimizer step ``step``."""

    def __init__(self, hook: str, step: int, signum: int = signal.SIGTERM):
        self.hook, self.step, self.signum, self.sent = hook, step, signum, False

    def _maybe(self, trainer, hook):
        if hook == self.hook and trainer.global_step == self.step and not self.sent:
            self.sent = True
            os.kill(os.getpid(), self.signum)  # the handler runs before the next bytecode of this thread

    def on_train_start(self, trainer, *_):
        self._maybe(trainer, "on_train_start")

    def on_train_batch_end(self, trainer, *_):
        self._maybe(trainer, "on_train_batch_end")

    def on_train_epoch_end(self, trainer, *_):
        self._maybe(trainer, "on_train_epoch_end")

    def on_train_end(self, trainer, *_):
        self._maybe(trainer, "on_train_end")


def _trainer(tmp_path, callbacks):
    return pl.Trainer(accelerator="cpu", devices=1, default_root_dir=tmp_path, max_epochs=EPOCHS,
                      limit_train_batches=STEPS_PER_EPOCH,
                      limit_val_batches=0, enable_checkpointing=False, logger=False, enable_progress_bar=False,
                      enable_model_summary=False, callbacks=callbacks)


# (where the signal is sent, relative to GracefulStop in the callback list, hook, step) -> step saved
CASES = {
    "before_on_train_start": ("before", "on_train_start", 0, 1),        # Lightning's handler still installed
    "after_the_step_check": ("after", "on_train_batch_end", 2, 3),      # once raced Lightning's check: exit 0
    "at_the_epoch_end": ("after", "on_train_epoch_end", 3, 4),          # Lightning checks here too
    "after_the_last_step": ("after", "on_train_batch_end", 6, 6),       # the fit completes, then stops
    "in_on_train_end": ("before", "on_train_end", 6, 6),
}


# Ctrl-C before on_train_start is Python's KeyboardInterrupt (nothing trained, nothing to save): not a case here
SIGNALLED = [(case, signum) for case in CASES for signum in (signal.SIGTERM, signal.SIGINT)
             if not (signum == signal.SIGINT and case == "before_on_train_start")]


@pytest.mark.parametrize(("case", "signum"), SIGNALLED, ids=[f"{c}-{signal.Signals(s).name}" for c, s in SIGNALLED])
def test_a_signal_anywhere_in_the_fit_saves_last_ckpt_and_stops_with_128_plus_signal(tmp_path, case, signum):
    where, hook, step, saved = CASES[case]
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    stop, send = GracefulStop(str(tmp_path / "run")), SendSignal(hook, step, signum)
    trainer = _trainer(tmp_path, [send, stop] if where == "before" else [stop, send])
    with pytest.raises(Interrupted) as info:
        trainer.fit(BoringModel())
    assert send.sent and info.value.exit_code == 128 + signum
    assert info.value.resume.endswith(f"hydra.run.dir={tmp_path / 'run'} ckpt_path=last")
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert state["global_step"] == saved
    assert {s: signal.getsignal(s) for s in before} == before  # handlers given back


def test_the_saved_checkpoint_resumes_to_the_end(tmp_path):
    with pytest.raises(Interrupted):
        _trainer(tmp_path, [GracefulStop(str(tmp_path / "run")), SendSignal("on_train_epoch_end", 3)]).fit(BoringModel())
    trainer = _trainer(tmp_path, [GracefulStop(str(tmp_path / "run"))])
    trainer.fit(BoringModel(), ckpt_path=tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert trainer.global_step == STEPS_PER_EPOCH * EPOCHS and trainer.current_epoch == EPOCHS


def test_lightning_sigterm_exit_outside_training_exits_143_not_0(capsys):
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    @clear_errors
    def testing():
        raise SIGTERMException  # what Lightning's test loop raises on a SIGTERM

    with pytest.raises(SystemExit) as info:
        testing()
    assert info.value.code == 143 and "error: stopped by SIGTERM" in capsys.readouterr().err
