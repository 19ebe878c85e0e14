"""What the commands check before building anything: every numeric rule (each config group's table, kept
beside the group's code, and the commands' own top-level keys, kept here), and the checks that span groups."""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lnta.errors import ConfigError, DataError
from lnta.validate import COUNT, FRACTION, NATURAL, POSITIVE, Range

#: ``ckpt_path`` values that are not a file: resume this run dir's last.ckpt if present / required.
RESUME_MODES = ("auto", "last")


def _group_tables() -> dict:
    from lnta.anomaly.settings import RANGES as ANOMALY
    from lnta.callbacks.settings import RANGES as CALLBACKS
    from lnta.data.settings import RANGES as DATA
    from lnta.metrics.settings import RANGES as EVALUATION
    from lnta.models.settings import RANGES as MODEL
    from lnta.trainer.settings import RANGES as TRAINER

    return {**DATA, **MODEL, **ANOMALY, **TRAINER, **CALLBACKS, **EVALUATION}


#: The commands' own keys: score, calibrate, convert, export, download, visualize.
COMMANDS = {
    # lnta.score, lnta.calibrate
    "batch_size": COUNT, "false_alarm_rate": FRACTION, "threshold": Range(integer=False, none=True),
    "heatmap_max": POSITIVE,
    # lnta.convert, lnta.export, lnta.download
    "calibration.max_clips": COUNT, "calibration.batch_size": COUNT, "tolerance": Range(integer=False, low=0),
    "onnx_tolerance": Range(integer=False, low=0), "openvino_tolerance": Range(integer=False, low=0),
    "timeout": POSITIVE, "retries": NATURAL,
    # lnta.visualize
    "repeats": Range(low=2, items=True), "noise_sigma": Range(integer=False, low=0, none=True),
    "sample": NATURAL, "frames": Range(low=0, none=True, items=True), "skips": Range(low=2, items=True, empty=True),
}


def all_ranges() -> dict:
    """Every group's table and :data:`COMMANDS` (imported when a command runs: the group tables pull in their
    packages)."""
    return {**_group_tables(), **COMMANDS}


def check_ckpt_path(value) -> None:
    if value is not None and value not in RESUME_MODES and not Path(str(value)).expanduser().is_file():
        raise DataError(f"ckpt_path={value}: not found; expected an existing checkpoint file, "
                        f"{' or '.join(RESUME_MODES)}")


def check_train_config(cfg: DictConfig) -> None:
    """The rules of a training config beyond the ranges (which every command checks first): the clip and
    image shapes against the model, the checkpoint to resume; raises a one-line :class:`ConfigError`."""
    from lnta.models.settings import check_shapes

    check_shapes(cfg.data, cfg.model)
    check_ckpt_path(cfg.ckpt_path)


def check_eval_config(cfg: DictConfig) -> None:
    """The eval CLI's own rule (the checkpoint file itself is checked by :func:`lnta.trainer.checkpoint.load_checkpoint`)."""
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise ConfigError("ckpt_path is required: python -m lnta.eval ckpt_path=path/to/last.ckpt (or a run folder)")
