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
    from lnta.data import FolderDataModule, SyntheticDataModule, VideoDataModule
    from lnta.models import ConvAE3D, MemAE
    return (ConvAE3D, MemAE, VideoDataModule, SyntheticDataModule, FolderDataModule)


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


#: Hydra's instantiation keys: a stored config is built as a plain object, never partially or with arguments.
_INSTANTIATION_KEYS = ("_partial_", "_args_", "_recursive_", "_convert_")
#: The run settings a checkpoint carries beside its groups, and the values each may hold.
_STORED_CHOICES = {"precision": ("fast", "exact"), "inference_compile": ("auto", True, False, "true", "false")}


def check_stored_values(config: dict, path) -> None:
    """The values of a checkpoint's stored config pass the same rules as the command line: the ``model`` and
    ``data`` groups are mappings without Hydra's instantiation keys, their numbers are in range
    (:mod:`lnta.data.settings`, :mod:`lnta.models.settings`), the image size and clip length suit the model,
    and the stored ``precision`` / ``inference_compile`` are known values. Raises :class:`DataError` naming the
    file and the stored key."""
    from omegaconf import OmegaConf

    from lnta.data.settings import RANGES as DATA_RANGES
    from lnta.errors import ConfigError
    from lnta.models.settings import RANGES as MODEL_RANGES, check_shapes
    from lnta.validate import check_ranges

    for group in STORED_GROUPS:
        node = config.get(group)
        if not isinstance(node, dict) or "_target_" not in node:
            raise DataError(f"ckpt_path={path}: stored {group} is not a config of an lnta class ({type(node).__name__})")
        bad = [k for k in _INSTANTIATION_KEYS if k in node]
        if bad:
            raise DataError(f"ckpt_path={path}: stored {group}.{bad[0]} is refused: a checkpoint's {group} is built as "
                            "a plain object")
    for key, choices in _STORED_CHOICES.items():
        if key in config and config[key] is not None and config[key] not in choices:
            raise DataError(f"ckpt_path={path}: stored {key}={config[key]!r}: expected one of "
                            f"{', '.join(str(c).lower() for c in dict.fromkeys(choices))} (override it: {key}=...)")
    try:
        stored = OmegaConf.create({group: config[group] for group in STORED_GROUPS})
        check_ranges(stored, {**DATA_RANGES, **MODEL_RANGES})
        check_shapes(stored.data, stored.model)
    except ConfigError as exc:
        raise DataError(f"ckpt_path={path}: stored {exc}") from None


def check_calibration(stats, path) -> None:
    """Refuse calibration statistics that cannot calibrate anything: a finite ``mean``, a finite ``std`` > 0,
    ``n`` >= 1 normal PSNRs, all finite (:mod:`lnta.metrics.calibration`). Raises :class:`DataError` naming the file."""
    import math

    def bad(why: str) -> DataError:
        return DataError(f"ckpt_path={path}: stored calibration statistics are unusable ({why}); compute them "
                         "again with python -m lnta.calibrate")
    if not isinstance(stats, dict):
        raise bad("not a mapping")
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)  # noqa: E731
    psnr = stats.get("psnr")
    if not number(stats.get("mean")):
        raise bad(f"mean={stats.get('mean')!r}")
    if not number(stats.get("std")) or stats["std"] <= 0:
        raise bad(f"std={stats.get('std')!r}, expected > 0")
    if not isinstance(psnr, list) or not psnr or not all(number(v) for v in psnr):
        raise bad("no finite normal PSNRs")


def load_checkpoint(path: str | Path) -> dict:
    """Load one of our checkpoints safely: ``weights_only=True`` (no pickled code runs), its stored config
    checked by :func:`check_stored_config` (nothing it names is called) and :func:`check_stored_values` (the
    rules of the command line), its calibration statistics by :func:`check_calibration`. A run folder
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
    check_stored_values(checkpoint[CONFIG_KEY], path)
    if checkpoint.get(CALIBRATION_KEY) is not None:
        check_calibration(checkpoint[CALIBRATION_KEY], path)
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


#: The settings that decide a run's training trajectory: a resume must keep every key under these (except
#: :data:`MAY_CHANGE`), or it would silently not continue the stored run.
TRAINING_SETTINGS = ("seed", "precision", "data", "model", "anomaly", "optimizer", "trainer.limit_train_batches",
                     "trainer.accumulate_grad_batches", "trainer.gradient_clip_val", "trainer.precision",
                     "trainer.deterministic")
#: Keys under those that a resume may change: where things are and how they are read (not what is trained on).
MAY_CHANGE = ("data.root", "data.cache_dir", "data.num_workers", "data.backend", "data.persistent_workers",
              "data.eval_batch_size", "data.test", "data.test_root", "data.labels", "data.label_source",
              "data.on_device", "data.device_memory_fraction", "anomaly.intruder.path", "anomaly.types.*.intruder.path")


#: Keys that older stored configs lack, with the value that meant what their absence meant (``anomaly=none``
#: gained ``p: 0`` so that sweeps over anomaly types compose): a resume of such a run is no change.
ADDED_KEYS = {"anomaly.p": 0}


def _flat(node, prefix: str = "") -> dict:
    if isinstance(node, dict):
        return {k: v for key, value in node.items() for k, v in _flat(value, f"{prefix}{key}.").items()}
    return {prefix[:-1]: node}


def training_changes(stored: dict, config: dict) -> list[tuple[str, object, object]]:
    """``(key, stored value, new value)`` of every training setting (:data:`TRAINING_SETTINGS`) that differs
    between a checkpoint's stored config and a new run's resolved config; keys of :data:`MAY_CHANGE` excepted."""
    import fnmatch

    old, new = _flat(stored), _flat(config)
    old.update({k: v for k, v in ADDED_KEYS.items() if k not in old and new.get(k) == v})
    changes = []
    for key in sorted(set(old) | set(new)):
        if not any(key == s or key.startswith(f"{s}.") for s in TRAINING_SETTINGS):
            continue
        if any(fnmatch.fnmatchcase(key, pattern) for pattern in MAY_CHANGE):
            continue
        if old.get(key, "<unset>") != new.get(key, "<unset>"):
            changes.append((key, old.get(key, "<unset>"), new.get(key, "<unset>")))
    return changes


def check_resumable(module: LNTAModule, checkpoint: dict, path, max_steps: int | None = None) -> None:
    """Refuse to resume ``module`` from ``checkpoint`` if a training setting changed (:func:`training_changes`:
    one line naming the first key, the stored and the new value, and how to start fresh), if its weights do
    not fit (another width, another model: the first mismatching tensor), and (``max_steps``, the new run's
    ``trainer.max_steps``) if resuming would not continue it exactly (:func:`check_extension`)."""
    changes = training_changes(checkpoint.get(CONFIG_KEY) or {}, module.config or {})
    if changes:
        key, old, new = changes[0]
        more = f" (and {len(changes) - 1} more: {', '.join(k for k, _, _ in changes[1:4])})" if len(changes) > 1 else ""
        raise DataError(f"ckpt_path={path}: {key}={new} but the run was trained with {key}={old}{more}; resuming "
                        "would not continue that run. Keep its settings, or start fresh: another hydra.run.dir "
                        "or ckpt_path=null")
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
