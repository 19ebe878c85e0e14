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
QUIET = {"accelerator": "cpu", "devices": 1, "logger": False, "enable_progress_bar": False,
         "enable_model_summary": False, "enable_checkpointing": False}


class ClipBatches(BoringModel):
    """BoringModel on lnta's batch shape: a dict with ``clip`` (what ResumeState counts)."""

    def training_step(self, batch, batch_idx):
        return super().training_step(batch["clip"], batch_idx)


class _Keyed(torch.utils.data.Dataset):
    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, key):  # (index, item seed) from EpochShuffle
        return {"clip": self.data[key[0]]}


class OrderedClips(pl.LightningDataModule):
    """64 items in 32 batches of 2, in lnta's resumable training order (``train_order``), or without it."""

    def __init__(self, ordered: bool = True):
        from lnta.data.order import EpochShuffle

        super().__init__()
        self.data = torch.randn(64, 32, generator=torch.Generator().manual_seed(0))
        self.train_order = EpochShuffle(64, seed=0) if ordered else None

    def train_dataloader(self):
        if self.train_order is None:
            return torch.utils.data.DataLoader([{"clip": x} for x in self.data], batch_size=2)
        return torch.utils.data.DataLoader(_Keyed(self.data), batch_size=2, sampler=self.train_order)


def _mid_epoch_checkpoint(tmp_path, callbacks) -> str:
    """A checkpoint saved after step 3 of 32, inside epoch 0 (as GracefulStop saves)."""
    ckpt = str(tmp_path / "mid.ckpt")

    class SaveAtStep3(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step == 3:
                trainer.save_checkpoint(ckpt)

    pl.Trainer(max_steps=5, callbacks=[*callbacks, SaveAtStep3()], **QUIET).fit(ClipBatches(), OrderedClips())
    return ckpt


@pytest.mark.parametrize("case", ["exact", "no ResumeState", "saved on 2 devices", "no training order"])
def test_lightnings_mid_epoch_warning_shows_only_where_the_resume_is_not_exact(tmp_path, case):
    from lnta.callbacks.resume import MID_EPOCH_WARNING, ResumeState, exact_mid_epoch_resume
    from lnta.trainer.checkpoint import resume_state

    callbacks = [] if case == "no ResumeState" else [ResumeState()]
    ckpt = _mid_epoch_checkpoint(tmp_path, [ResumeState()])
    state = resume_state(torch.load(ckpt, map_location="cpu", weights_only=False))
    assert state["done"] == 6 and state["world_size"] == 1  # 3 batches of 2 clips, one device
    if case == "saved on 2 devices":
        state = {**state, "world_size": 2}
    datamodule = OrderedClips(ordered=case != "no training order")
    trainer = pl.Trainer(max_steps=4, callbacks=callbacks, **QUIET)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with exact_mid_epoch_resume(trainer, datamodule, state):
            trainer.fit(ClipBatches(), datamodule, ckpt_path=ckpt, weights_only=False)
    seen = [str(w.message) for w in caught if MID_EPOCH_WARNING in str(w.message)]
    assert len(seen) == (0 if case == "exact" else 1), seen


def test_the_progress_bar_names_the_epoch_after_a_mid_epoch_resume(tmp_path):
    """Lightning calls no epoch start on a mid-epoch resume; the bar still says "Epoch 1/2", not "Training"."""
    from lnta.callbacks.progress import OverallProgressBar
    from lnta.callbacks.resume import ResumeState

    ckpt = _mid_epoch_checkpoint(tmp_path, [ResumeState()])
    bar, seen = OverallProgressBar(), []

    class Look(pl.Callback):
        def on_train_batch_end(self, trainer, *_):
            seen.append(bar.train_progress_bar.desc)

    trainer = pl.Trainer(max_epochs=2, max_steps=4, callbacks=[ResumeState(), bar, Look()],
                         **{**QUIET, "enable_progress_bar": True})
    trainer.fit(ClipBatches(), OrderedClips(), ckpt_path=ckpt, weights_only=False)
    assert trainer.global_step == 4 and seen == ["Epoch 1/2: "]
