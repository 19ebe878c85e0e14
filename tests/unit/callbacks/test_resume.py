"""Resuming into the run's own folder does not warn that its checkpoint folder is full; other starts do."""
import warnings

import pytest
import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.demos.boring_classes import BoringModel

from lnta.callbacks.resume import LAST, expected_checkpoint_dir, resume_checkpoint

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
