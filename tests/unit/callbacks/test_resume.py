"""Resuming into the run's own folder does not warn that its checkpoint folder is full; other starts do.
A checkpoint of an epoch's last batch restores before that epoch's end."""
import copy
import warnings

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.demos.boring_classes import BoringModel

from lnta.callbacks.resume import LAST, expected_checkpoint_dir, finish_epoch_on_restore, resume_checkpoint

WARNING = "exists and is not empty"


def _setup_warnings(run, ckpt_path):
    """The warnings of ModelCheckpoint.setup (where Lightning checks the folder) under the context."""
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with expected_checkpoint_dir(ckpt_path, run):
            ModelCheckpoint(dirpath=run / "checkpoints", save_last=True).setup(trainer, BoringModel(), "fit")
    return [str(w.message) for w in caught if WARNING in str(w.message)]


@pytest.fixture
def run(tmp_path):
    (tmp_path / "run" / LAST).parent.mkdir(parents=True)
    (tmp_path / "run" / LAST).write_bytes(b"x")
    return tmp_path / "run"


def test_own_resume_is_silent(run):
    assert _setup_warnings(run, resume_checkpoint("auto", run)) == []
    assert _setup_warnings(run, resume_checkpoint("last", run)) == []


def test_a_fresh_start_or_another_checkpoint_in_a_full_folder_still_warns(run, tmp_path):
    assert len(_setup_warnings(run, resume_checkpoint(None, run))) == 1
    other = tmp_path / "other.ckpt"
    other.write_bytes(b"x")
    assert len(_setup_warnings(run, str(other))) == 1


# --- issue 23, item 4: a checkpoint saved after an epoch's last batch, before its end -----------------

def _loops(ready, completed, last, epoch_processed, stepped=4):
    """The fit loop state Lightning 2.x saves (as read from real checkpoints of a 4-batch epoch)."""
    progress = {"ready": ready, "completed": completed, "started": ready, "processed": ready}
    return {"loops": {"fit_loop": {
        "state_dict": {}, "epoch_loop.state_dict": {"_batches_that_stepped": stepped},
        "epoch_loop.batch_progress": {"total": dict(progress), "current": dict(progress), "is_last_batch": last},
        "epoch_progress": {"total": {"ready": 1, "completed": 0, "started": 1, "processed": epoch_processed},
                           "current": {"ready": 1, "completed": 0, "started": 1, "processed": epoch_processed}}}}}


def test_a_step_checkpoint_of_an_epochs_last_batch_restores_before_that_epochs_end():
    saved = _loops(ready=4, completed=3, last=True, epoch_processed=0)   # on_train_batch_end of batch 3 of 4
    assert finish_epoch_on_restore(saved)
    fit = saved["loops"]["fit_loop"]
    done = {"ready": 4, "completed": 4, "started": 4, "processed": 4}
    assert fit["epoch_loop.batch_progress"] == {"total": done, "current": done, "is_last_batch": True}
    assert fit["epoch_loop.state_dict"] == {"_batches_that_stepped": 5}   # what Lightning's own path adds
    assert fit["epoch_progress"]["total"]["processed"] == 0               # still inside epoch 0


@pytest.mark.parametrize("saved", [
    _loops(ready=2, completed=1, last=False, epoch_processed=0),   # mid-epoch: Lightning restores it exactly
    _loops(ready=4, completed=4, last=True, epoch_processed=1),    # the epoch-end checkpoint itself
    {"state_dict": {}},                                            # no loop state (a converted checkpoint)
])
def test_other_checkpoints_are_left_as_saved(saved):
    before = copy.deepcopy(saved)
    assert not finish_epoch_on_restore(saved)
    assert saved == before


# --- a mid-epoch resume: Lightning's "not resumable" warning only where it is true --------------------
class ClipBatches(BoringModel):
    """BoringModel with lnta's batch shape: a dict with ``clip`` (what ResumeState counts)."""

    def train_dataloader(self):
        return torch.utils.data.DataLoader([{"clip": torch.randn(32)} for _ in range(64)], batch_size=2)

    def training_step(self, batch, batch_idx):
        return super().training_step(batch["clip"], batch_idx)


def _mid_epoch_resume_warnings(tmp_path, callbacks):
    """Train 3 of 32 batches, save, resume that checkpoint: the mid-epoch warnings seen."""
    from lnta.callbacks.resume import MID_EPOCH_WARNING, exact_mid_epoch_resume

    quiet = {"logger": False, "enable_progress_bar": False, "enable_model_summary": False,
             "enable_checkpointing": False}
    first = pl.Trainer(max_steps=3, callbacks=[copy.deepcopy(c) for c in callbacks], **quiet)
    first.fit(ClipBatches())
    ckpt = str(tmp_path / "mid.ckpt")
    first.save_checkpoint(ckpt)
    trainer = pl.Trainer(max_steps=4, callbacks=callbacks, **quiet)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with exact_mid_epoch_resume(trainer, ckpt):
            trainer.fit(ClipBatches(), ckpt_path=ckpt, weights_only=False)
    return [str(w.message) for w in caught if MID_EPOCH_WARNING in str(w.message)]


def test_a_mid_epoch_resume_with_resume_state_does_not_warn_it_is_unreliable(tmp_path):
    from lnta.callbacks.resume import ResumeState

    assert _mid_epoch_resume_warnings(tmp_path, [ResumeState()]) == []


def test_without_resume_state_lightning_still_warns(tmp_path):
    assert len(_mid_epoch_resume_warnings(tmp_path, [])) == 1


def test_the_progress_bar_names_the_epoch_after_a_mid_epoch_resume(tmp_path):
    """Lightning calls no epoch start on a mid-epoch resume; the bar still says "Epoch 1/2", not "Training"."""
    from lnta.callbacks.progress import OverallProgressBar
    from lnta.callbacks.resume import ResumeState

    ckpt = str(tmp_path / "mid.ckpt")

    class SaveAtStep3(pl.Callback):  # as GracefulStop saves: after a step, inside the epoch
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step == 3:
                trainer.save_checkpoint(ckpt)

    first = pl.Trainer(max_steps=5, callbacks=[ResumeState(), SaveAtStep3()], logger=False, enable_progress_bar=False,
                       enable_model_summary=False, enable_checkpointing=False)
    first.fit(ClipBatches())
    bar, seen = OverallProgressBar(), []

    class Look(pl.Callback):
        def on_train_batch_end(self, trainer, *_):
            seen.append(bar.train_progress_bar.desc)

    trainer = pl.Trainer(max_epochs=2, max_steps=4, callbacks=[ResumeState(), bar, Look()], logger=False,
                         enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(ClipBatches(), ckpt_path=ckpt, weights_only=False)
    assert trainer.global_step == 4 and seen == ["Epoch 1/2: "]
