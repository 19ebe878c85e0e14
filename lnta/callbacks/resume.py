"""Resuming a killed run: where to resume from, and the random state a checkpoint must carry."""
from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import warnings
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from lnta.errors import DataError

log = logging.getLogger(__name__)

LAST = Path("checkpoints") / "last.ckpt"


def resume_checkpoint(ckpt_path: str | None, output_dir: Path) -> str | None:
    """The checkpoint ``trainer.fit`` resumes from.

    ``auto``: this run dir's ``checkpoints/last.ckpt`` if it exists (re-running the same command in
    the same run dir resumes), else a fresh start; ``last``: that file, which must exist; ``null``:
    a fresh start; anything else: that file.
    """
    last = Path(output_dir) / LAST
    if ckpt_path == "auto":
        ckpt_path = str(last) if last.is_file() else None
    elif ckpt_path == "last":
        if not last.is_file():
            raise DataError(f"ckpt_path=last: {last} not found; nothing to resume in this run dir "
                            "(set hydra.run.dir to the killed run's folder)")
        ckpt_path = str(last)
    if ckpt_path:
        log.info("resuming from %s", ckpt_path)
    return ckpt_path


@contextlib.contextmanager
def expected_checkpoint_dir(ckpt_path: str | None, output_dir: Path):
    """While resuming this run dir's own ``checkpoints/last.ckpt`` (``ckpt_path`` as returned by
    :func:`resume_checkpoint`), silence Lightning's "Checkpoint directory ... exists and is not empty"
    warning about that folder: a resume expects it full. Any other start (fresh, another checkpoint,
    another folder) keeps the warning."""
    own = Path(output_dir) / LAST
    if not ckpt_path or os.path.realpath(ckpt_path) != os.path.realpath(own):
        yield
        return
    folder = re.escape(os.path.realpath(own.parent))  # ModelCheckpoint names its dirpath by realpath
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=rf"Checkpoint directory {folder} exists and is not empty")
        yield


#: Lightning's warning on a mid-epoch resume of a data loader without ``state_dict`` (it cannot know of
#: :class:`ResumeState`, which restores the position through the data module's ``EpochShuffle``).
MID_EPOCH_WARNING = "You're resuming from a checkpoint that ended before the epoch ended"


@contextlib.contextmanager
def exact_mid_epoch_resume(trainer: pl.Trainer, datamodule, state: dict):
    """While resuming a checkpoint whose :class:`ResumeState` ``state`` (what it stored:
    :func:`lnta.trainer.checkpoint.resume_state`, {} for a fresh start) holds a position, on one device, with a
    :class:`ResumeState` callback and a data module with a ``train_order`` to skip into, silence Lightning's
    warning that a mid-epoch resume is unreliable: that callback continues the epoch exactly. Otherwise (a
    checkpoint without the position, one saved on several devices, a resume under DDP, no such callback or
    order) the warning stays."""
    exact = ("done" in state and int(state.get("world_size", 1)) == 1 and trainer.world_size == 1
             and getattr(datamodule, "train_order", None) is not None
             and any(isinstance(c, ResumeState) for c in trainer.callbacks))
    if not exact:
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=re.escape(MID_EPOCH_WARNING))
        yield


def capture_rng() -> dict:
    """Python, NumPy, torch (and CUDA) global RNG states as tensors and ints (loadable with weights_only)."""
    version, python_state, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": {"version": version, "state": torch.tensor(python_state, dtype=torch.int64), "gauss": gauss},
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state((npy["kind"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def finish_epoch_on_restore(checkpoint: dict) -> bool:
    """Make a checkpoint saved after the last batch of an epoch, before its end (a step checkpoint or a
    graceful stop at the epoch's last step), restore as "that epoch, every batch done, its end not yet
    run"; returns whether ``checkpoint`` was such a one (its loop state is changed in place).

    Lightning 2.x restores such a checkpoint into the *next* epoch: it counts the epoch finished without
    calling any epoch-end hook (so ``epochNNN.ckpt`` is never written) and skips the next epoch's
    ``on_train_epoch_start`` (so the data order of the next epoch is not set). Marked as restarting
    after the batch's completion instead, Lightning re-enters the epoch, finds every batch done, and
    runs the epoch end and the next epoch as an uninterrupted run does. The batch counter that
    Lightning's own path advances for loggers is advanced here the same way.
    """
    loop = (checkpoint.get("loops") or {}).get("fit_loop") or {}
    batches, epochs = loop.get("epoch_loop.batch_progress"), loop.get("epoch_progress")
    if not batches or not epochs or not batches.get("is_last_batch"):
        return False
    total, epoch = batches["total"], epochs["total"]
    at_batch_end = total["ready"] == total["started"] == total["processed"] == total["completed"] + 1
    mid_epoch = epoch["ready"] == epoch["started"] == epoch["processed"] + 1
    if not (at_batch_end and mid_epoch):
        return False
    for progress in (batches["total"], batches["current"]):
        progress["completed"] = progress["processed"]
    state = loop.setdefault("epoch_loop.state_dict", {})
    state["_batches_that_stepped"] = state.get("_batches_that_stepped", 0) + 1
    return True


class ResumeState(pl.Callback):
    """Stores in every checkpoint the global RNG states and how far into its epoch training was.

    On resume it restores the RNG states (they drive init and the pseudo-anomaly draws) and makes
    the data module's :class:`~lnta.data.order.EpochShuffle` skip the clips already trained on, so a
    resumed single-device run continues exactly as if it had never stopped, even mid-epoch and after
    the last step of an epoch before its end (:func:`finish_epoch_on_restore`).
    """

    def __init__(self):
        self.position = {"epoch": 0, "done": 0}  # the next clip to train on
        self._pending: dict | None = None
        self._batches = 0  # batches trained in the current epoch
        self._epoch_end = False  # restored after an epoch's last batch: nothing left to train in it
        self._world_size = 1

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.position = {"epoch": trainer.current_epoch, "done": (batch_idx + 1) * len(batch["clip"])}
        self._batches = batch_idx + 1

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # An epoch that ended early (trainer.max_steps) counts as finished for Lightning: record where
        # it stopped, so that extending the run is refused instead of skipping the rest of it.
        cut = self._batches < trainer.num_training_batches < float("inf")
        self.position = {"epoch": trainer.current_epoch + 1, "done": 0,
                         **({"cut_epoch": trainer.current_epoch, "cut_done": self.position["done"]} if cut else {})}
        self._batches = 0

    def setup(self, trainer, pl_module, stage: str) -> None:
        self._world_size = trainer.world_size  # ``done`` counts one rank's clips: a resume elsewhere is not exact

    def state_dict(self) -> dict:
        return {"rng": capture_rng(), **self.position, "batches": self._batches, "world_size": self._world_size}

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        # before Lightning restores its loops from the same dict; one device only: under DDP Lightning
        # wraps the sampler, which cannot skip the rest of the epoch
        self._epoch_end = trainer.world_size == 1 and finish_epoch_on_restore(checkpoint)

    def load_state_dict(self, state_dict: dict) -> None:
        restore_rng(state_dict["rng"])
        self._pending = {"epoch": state_dict["epoch"], "done": state_dict["done"]}
        self._batches = int(state_dict.get("batches", 0))

    def on_fit_start(self, trainer, pl_module) -> None:
        order = getattr(trainer.datamodule, "train_order", None)
        if self._pending is None or order is None:
            return
        epoch, done = self._pending["epoch"], self._pending["done"]
        if self._epoch_end:  # every batch of the epoch is trained: its end runs next, on no more data
            done = len(order)
        if done and trainer.world_size > 1:  # Lightning wraps the sampler: it cannot skip into the epoch
            log.warning("multi-device resume mid-epoch: the interrupted epoch restarts from a fresh order")
            done = 0
        order.resume(epoch, done)
        self._pending, self._epoch_end = None, False

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        # Lightning sets the epoch of a sampler it wraps for DDP, not of ours inside: do it here.
        order = getattr(trainer.datamodule, "train_order", None)
        if order is not None:
            order.set_epoch(trainer.current_epoch)
