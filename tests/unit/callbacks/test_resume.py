"""Resuming into the run's own folder does not warn that its checkpoint folder is full; other starts do.
A checkpoint of an epoch's last batch restores before that epoch's end."""
import copy
import warnings

import pytest
import pytorch_lightning as pl
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
