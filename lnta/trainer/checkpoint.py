"""Our checkpoints: the run's resolved config travels inside them, so a checkpoint stands alone."""
from __future__ import annotations

from pathlib import Path

import torch
from hydra._internal.utils import _locate
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from lnta.metrics.calibration import CALIBRATION_KEY
from lnta.errors import DataError
from lnta.io import atomic_path
from lnta.models.module import CONFIG_KEY, LNTAModule


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoint files written through :func:`lnta.io.atomic_path`: a kill mid-write leaves the
    previous file intact, never a truncated one that a resume would trust."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None or "://" in str(path):  # remote storage: Lightning's own writer
            return super().save_checkpoint(checkpoint, path, storage_options)
        with atomic_path(Path(path)) as tmp:
            torch.save(checkpoint, tmp)


#: The config groups of a checkpoint that lnta ever builds objects from, and the classes each may
#: name. A stored config is data written by whoever made the file: nothing else in it is called.
STORED_GROUPS = ("model", "data")


def _allowed_targets() -> tuple:
    from lnta.data import SyntheticDataModule, VideoDataModule
    from lnta.models import ConvAE3D, MemAE
    return (ConvAE3D, MemAE, VideoDataModule, SyntheticDataModule)


def _walk(node, where: str):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{where}.{key}")
            if key == "_target_":
                yield where, value
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _walk(value, f"{where}[{i}]")
    elif isinstance(node, str) and "${" in node:
        yield where, node  # an interpolation would be resolved (run) when the config is read


def check_stored_config(config, path) -> None:
    """Refuse a stored config that names anything but lnta's own model and data classes.

    Every ``_target_`` at any depth of the groups in :data:`STORED_GROUPS` must be one of lnta's
    classes (only ``lnta.*`` paths are even imported to check); interpolations (``${...}``) are
    refused. Raises :class:`DataError` naming the file and the key.
    """
    if not isinstance(config, dict):
        raise DataError(f"ckpt_path={path}: '{CONFIG_KEY}' is not a mapping; not an lnta checkpoint")
    allowed = _allowed_targets()
    for group in STORED_GROUPS:
        for where, value in _walk(config.get(group), f"{CONFIG_KEY}.{group}"):
            target = None
            if isinstance(value, str) and "${" not in value and value.startswith("lnta."):
                try:
                    target = _locate(value)
                except Exception:  # noqa: BLE001 - an unknown name is refused below
                    target = None
            if target not in allowed:
                raise DataError(f"ckpt_path={path}: {where}={value!r} is refused: a checkpoint's config is data "
                                "and may only name lnta's own model and data classes")


def load_checkpoint(path: str | Path) -> dict:
    """Load one of our checkpoints safely: ``weights_only=True`` (no pickled code runs), and its
    stored config checked by :func:`check_stored_config` (nothing it names is called). A run folder
    (or its ``checkpoints/``) means its ``last.ckpt``."""
    path = Path(path).expanduser()
    if path.is_dir():
        last = next((c for c in (path / "checkpoints" / "last.ckpt", path / "last.ckpt") if c.is_file()), None)
        if last is None:
            raise DataError(f"ckpt_path={path}: a folder without checkpoints/last.ckpt; pass a checkpoint file")
        path = last
    if not path.is_file():
        raise DataError(f"ckpt_path={path}: checkpoint not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read is the user's file
        raise DataError(f"ckpt_path={path}: not a readable lnta checkpoint ({exc.__class__.__name__})") from None
    if CONFIG_KEY not in checkpoint:
        raise DataError(f"ckpt_path={path}: no '{CONFIG_KEY}' inside; not an lnta checkpoint "
                        "(authors' checkpoints: convert them first)")
    check_stored_config(checkpoint[CONFIG_KEY], path)
    return checkpoint


def resume_state(checkpoint: dict) -> dict:
    """What :class:`~lnta.callbacks.resume.ResumeState` stored in ``checkpoint`` ({} if nothing)."""
    for key, value in (checkpoint.get("callbacks") or {}).items():
        if str(key).startswith("ResumeState") and isinstance(value, dict):
            return value
    return {}


def trained_position(checkpoint: dict) -> tuple[int, int]:
    """``(epoch, global_step)`` of the weights in ``checkpoint``: the 0-based epoch they were trained
    in (the last completed one at an epoch boundary) and the optimizer steps taken, as training
    records them in ``metrics.json``. Lightning's own ``epoch`` field counts completed epochs at an
    epoch end, one more than this; it is the fallback for checkpoints without our resume state."""
    state, step = resume_state(checkpoint), int(checkpoint.get("global_step", 0))
    if "epoch" in state and "done" in state:
        return max(int(state["epoch"]) - (0 if state["done"] else 1), 0), step
    return int(checkpoint.get("epoch", 0)), step


def check_extension(checkpoint: dict, path, max_steps: int | None) -> None:
    """Refuse to train on from a run that ``trainer.max_steps`` stopped in the middle of an epoch:
    Lightning would start the next epoch and skip the rest of the cut one, so the extended run would
    not be the run that a larger ``max_steps`` gives. Re-running with the same ``max_steps`` is fine."""
    state, step = resume_state(checkpoint), int(checkpoint.get("global_step", 0))
    if "cut_epoch" not in state or (max_steps is not None and 0 <= max_steps <= step):
        return
    raise DataError(f"ckpt_path={path}: trainer.max_steps={step} stopped that run {state['cut_done']} clips into "
                    f"epoch {state['cut_epoch']}; training on from it would skip the rest of that epoch. Train "
                    "the longer run in a new hydra.run.dir, or keep trainer.max_steps at its value")


def check_resumable(module: LNTAModule, checkpoint: dict, path, max_steps: int | None = None) -> None:
    """Refuse to resume ``module`` from ``checkpoint`` if its weights do not fit (another width,
    another model): one line naming the file and the first mismatching tensor; and (``max_steps``,
    the new run's ``trainer.max_steps``) if resuming would not continue it exactly
    (:func:`check_extension`)."""
    check_extension(checkpoint, path, max_steps)
    own = module.state_dict()
    stored = checkpoint.get("state_dict", {})
    for key, value in own.items():
        if key not in stored:
            raise DataError(f"ckpt_path={path}: has no '{key}'; it was not trained with this model config")
        if tuple(stored[key].shape) != tuple(value.shape):
            raise DataError(f"ckpt_path={path}: '{key}' has shape {tuple(stored[key].shape)}, this run's model "
                            f"{tuple(value.shape)}; resume with the settings it was trained with "
                            "(or use another hydra.run.dir)")


def store_calibration(paths, stats: dict, global_step: int) -> list[Path]:
    """Write the calibration statistics ``stats`` (:func:`lnta.metrics.calibration.calibrate`) of the weights at
    optimizer step ``global_step`` into those checkpoint files of ``paths`` that hold these weights, atomically,
    so each keeps standing alone (``lnta.score`` reads them there); returns the files written."""
    written = []
    for path in dict.fromkeys(Path(p) for p in paths):
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if int(checkpoint.get("global_step", -1)) != global_step:
            continue
        checkpoint[CALIBRATION_KEY] = stats
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)
        written.append(path)
    return written
