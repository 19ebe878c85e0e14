"""Start-up checks of the user's config: each rule lives here once and names the offending key.

The CLIs call :func:`check_train_config` / :func:`check_eval_config` before building anything, so
a typo fails in a second with one line (``anomaly.p=1.5: expected a probability in [0, 1]``)
instead of after hours, or with a traceback. The pseudo-anomaly constructors call the same rule
functions, so the Python API enforces identical rules.
"""
from __future__ import annotations

import fnmatch
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import hydra
from omegaconf import DictConfig, OmegaConf

from lnta.data.sampling import REFERENCE_CENTER
from lnta.errors import ConfigError, DataError

#: ``ckpt_path`` values that are not a file: resume this run dir's last.ckpt if present / required.
RESUME_MODES = ("auto", "last")


def _number(key: str, value, expected: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{key}={value}: expected {expected}")
    return float(value)


def probability(key: str, value) -> float:
    p = _number(key, value, "a probability in [0, 1]")
    if not 0 <= p <= 1:
        raise ConfigError(f"{key}={value}: expected a probability in [0, 1]")
    return p


def skip_set(key: str, values) -> list[int]:
    expected = "a non-empty list of integers > 1, e.g. [2, 3, 4, 5]"
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ConfigError(f"{key}={values}: expected {expected}")
    values = list(values)
    if not values or any(isinstance(s, bool) or not isinstance(s, numbers.Real) or int(s) != s or s < 2
                         for s in values):
        raise ConfigError(f"{key}={values}: expected {expected}")
    return [int(s) for s in values]


def patch_alpha(key: str, value) -> float:
    alpha = _number(key, value, "a value in (0, 1]")
    if not 0 < alpha <= 1:
        raise ConfigError(f"{key}={value}: expected a value in (0, 1] (max patch side / frame side)")
    return alpha


def patch_beta(key: str, value) -> int:
    beta = _number(key, value, "an integer >= 0 (pixels)")
    if beta < 0 or int(beta) != beta:
        raise ConfigError(f"{key}={value}: expected an integer >= 0 (max centre move in pixels)")
    return int(beta)


_ANOMALY_RULES = {"p": probability, "skips": skip_set, "repeats": skip_set, "alpha": patch_alpha, "beta": patch_beta}


def anomaly_specs(anomaly: DictConfig) -> Iterator[tuple[str, DictConfig]]:
    """``(key, spec)`` of each enabled pseudo-anomaly type: one ``_target_`` or several ``types``."""
    if "_target_" in anomaly:
        yield "anomaly", anomaly
    else:
        for name, spec in (anomaly.get("types") or {}).items():
            if spec:
                yield f"anomaly.types.{name}", spec


def check_anomalies(anomaly: DictConfig) -> None:
    total, keys = 0.0, []
    for key, spec in anomaly_specs(anomaly):
        for field, rule in _ANOMALY_RULES.items():
            if field in spec:
                rule(f"{key}.{field}", spec[field])
        if "p" in spec:
            total += float(spec.p)
            keys.append(f"{key}.p")
    if total > 1 + 1e-9:
        raise ConfigError(f"{' + '.join(keys)} = {total:g}: expected the enabled types' p to sum to at most 1")


@dataclass(frozen=True)
class Range:
    """A numeric setting's allowed values: an integer (``integer``) or a finite real in
    [``low``, ``high``] (``open_low``/``open_high`` exclude the bound); ``none``: null is allowed;
    ``items``: the value may also be a list, each item checked (an empty list only with ``empty``)."""

    integer: bool = True
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    none: bool = False
    items: bool = False
    empty: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        low, high = (f"{v:d}" if isinstance(v, int) else f"{v:g}" if v is not None else ""
                     for v in (self.low, self.high))
        if self.low is not None and self.high is not None:
            bounds = f" in {'(' if self.open_low else '['}{low}, {high}{')' if self.open_high else ']'}"
        elif self.low is not None:
            bounds = f" {'>' if self.open_low else '>='} {low}"
        elif self.high is not None:
            bounds = f" {'<' if self.open_high else '<='} {high}"
        else:
            bounds = " (finite)"
        text = kind + bounds
        if self.items:
            text += f" or a {'' if self.empty else 'non-empty '}list of them"
        return ("null or " if self.none else "") + text

    def accepts_one(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            return False
        if self.integer and int(value) != value:
            return False
        if self.low is not None and (value < self.low or (self.open_low and value == self.low)):
            return False
        return self.high is None or (value < self.high or (not self.open_high and value == self.high))

    def __call__(self, key: str, value) -> None:
        if value is None and self.none:
            return
        if self.items and isinstance(value, (list, tuple)):
            if (value or self.empty) and all(self.accepts_one(v) for v in value):
                return
        elif self.accepts_one(value):
            return
        raise ConfigError(f"{key}={value}: expected {self.describe()}")


def _devices(key: str, value) -> None:
    """``trainer.devices``: a count >= 1, -1 (all), or what Lightning parses itself (auto, a list, "0,1")."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and not (value >= 1 or value == -1):
        raise ConfigError(f"{key}={value}: expected a device count >= 1, -1 (all), auto or a list of device ids")


def _limit_batches(key: str, value) -> None:
    """Lightning's ``limit_*_batches``: null, a batch count >= 1, or a fraction in (0, 1]."""
    if value is None or isinstance(value, int) and not isinstance(value, bool) and value >= 1 \
            or isinstance(value, float) and 0 < value <= 1:
        return
    raise ConfigError(f"{key}={value}: expected null, a batch count >= 1, or a fraction in (0, 1]")


_COUNT = Range(low=1)          # sizes, counts and intervals that must be positive
_NATURAL = Range(low=0)        # counts where 0 means none
_SEED = Range(low=0, high=2**32, open_high=True)
_POSITIVE = Range(integer=False, low=0, open_low=True)
_TOP_K = Range(low=-1)         # Lightning: -1 keeps all, 0 none

#: Every numeric setting of every config group and command, by its full key (``*`` matches one key
#: level). :func:`check_ranges` applies the rules of the keys a composed config holds.
RANGES: dict[str, Callable[[str, object], None]] = {
    "seed": _SEED,
    # data
    "data.batch_size": _COUNT, "data.eval_batch_size": _COUNT, "data.num_workers": _NATURAL,
    "data.device_memory_fraction": Range(integer=False, low=0, high=1, open_low=True),
    "data.eval_batch_scale": _COUNT, "data.shuffle_seed": _SEED, "gpu_eval_batch_scale": _COUNT,
    "data.image_size": Range(low=1, items=True), "data.clip_len": _COUNT, "data.center": _NATURAL,
    "data.seed": _SEED, "data.size": Range(low=8), "data.train_videos": _COUNT, "data.test_videos": _COUNT,
    "data.frames_per_video": _COUNT,
    # model, optimizer
    "model.in_channels": _COUNT, "model.width": _POSITIVE, "model.stages": Range(low=1, high=4),
    "optimizer.lr": _POSITIVE, "optimizer.betas": Range(integer=False, low=0, high=1, open_high=True, items=True),
    "optimizer.weight_decay": Range(integer=False, low=0),
    "model.slots": _COUNT, "model.shrink_threshold": Range(integer=False, low=0, high=1, open_high=True),
    "model.entropy_weight": Range(integer=False, low=0),
    # anomaly (one type, or several under types.NAME) and its intruder
    **{f"{prefix}.{key}": rule for prefix in ("anomaly", "anomaly.types.*") for key, rule in {
        "p": probability, "skips": skip_set, "alpha": patch_alpha, "beta": patch_beta,
        "steal_margin": _POSITIVE, "intruder.size": Range(low=1, none=True),
        "intruder.max_images": _COUNT, "intruder.clip_len": _COUNT,
        "intruder.crop_scale": Range(integer=False, low=0, high=1, open_low=True, items=True),
        "intruder.crop_ratio": Range(integer=False, low=0, open_low=True, items=True),
        "intruder.flip": probability, "intruder.sigma": _POSITIVE,
        "repeats": Range(low=2, items=True)}.items()},
    # lnta.visualize
    "repeats": Range(low=2, items=True), "noise_sigma": Range(integer=False, low=0, none=True),
    # trainer
    "trainer.max_epochs": Range(low=-1, none=True), "trainer.max_steps": Range(low=-1),
    "trainer.limit_train_batches": _limit_batches, "trainer.log_every_n_steps": _COUNT,
    "trainer.num_sanity_val_steps": Range(low=-1), "trainer.devices": _devices,
    # callbacks
    "callbacks.model_checkpoint.every_n_epochs": _NATURAL, "callbacks.model_checkpoint.save_top_k": _TOP_K,
    "callbacks.step_checkpoint.every_n_train_steps": _NATURAL, "callbacks.step_checkpoint.save_top_k": _TOP_K,
    "callbacks.calibration.max_clips": _COUNT, "callbacks.calibration.batch_size": _COUNT,
    "callbacks.calibration.seed": _SEED, "callbacks.dashboard.heatmaps": _NATURAL,
    "callbacks.finite_weights.every_n_steps": _COUNT,
    "callbacks.finite_weights.max_abs": Range(integer=False, low=0, open_low=True, none=True),
    "callbacks.run_plan.timed_steps": _COUNT,
    "callbacks.pseudo_anomaly_images.frames": Range(low=0, none=True, items=True),
    # train / eval
    "pixel_stride": _COUNT, "region_quantile": Range(integer=False, low=0, high=1, open_low=True, open_high=True),
    # score
    "batch_size": _COUNT, "false_alarm_rate": Range(integer=False, low=0, high=1, open_low=True, open_high=True),
    "threshold": Range(integer=False, none=True), "heatmap_max": _POSITIVE,
    # convert, export, download, visualize
    "calibration.max_clips": _COUNT, "calibration.batch_size": _COUNT, "tolerance": Range(integer=False, low=0),
    "onnx_tolerance": Range(integer=False, low=0),
    "timeout": _POSITIVE, "retries": _NATURAL,
    "sample": _NATURAL, "frames": Range(low=0, none=True, items=True),
    "skips": Range(low=2, items=True, empty=True),
}


def _leaves(node, prefix: str = "") -> Iterator[tuple[str, DictConfig, str]]:
    """``(full key, parent node, key)`` of every leaf and list under ``node``, without resolving."""
    for key in node.keys() if isinstance(node, DictConfig) else ():
        full = f"{prefix}{key}"
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none() \
                and not OmegaConf.is_interpolation(node, key):
            yield from _leaves(child, full + ".")
        else:
            yield full, node, key


def range_rule(key: str) -> Callable[[str, object], None] | None:
    """The rule of the setting ``key`` (e.g. ``data.batch_size``), or None for a non-numeric setting."""
    return RANGES.get(key) or next((rule for pattern, rule in RANGES.items()
                                    if "*" in pattern and fnmatch.fnmatchcase(key, pattern)), None)


def check_ranges(cfg: DictConfig) -> None:
    """Every numeric setting in ``cfg`` that :data:`RANGES` knows, against its range; raises a
    one-line :class:`ConfigError` (``data.batch_size=0: expected an integer >= 1``). Interpolated
    and missing (``???``) values are skipped: they are checked where they are set."""
    for full, parent, key in _leaves(cfg):
        rule = range_rule(full)
        if rule is None or full.startswith("hydra.") or OmegaConf.is_interpolation(parent, key) \
                or OmegaConf.is_missing(parent, key):
            continue
        value = parent[key]
        rule(full, OmegaConf.to_container(value) if OmegaConf.is_config(value) else value)


def check_shapes(data: DictConfig, model: DictConfig) -> None:
    """Image size and clip length must suit the model's down-sampling (and the scored frame)."""
    from lnta.models.conv_ae3d import REFERENCE_STAGES  # noqa: PLC0415 - get_class imports torch anyway

    model_class = hydra.utils.get_class(model._target_)
    factors = getattr(model_class, "factors", None)
    temporal, spatial = factors(model.get("stages", REFERENCE_STAGES)) if factors else (1, 1)
    size = data.get("image_size")
    sizes = list(size) if OmegaConf.is_list(size) else [size]
    if any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 or s % spatial for s in sizes):
        raise ConfigError(f"data.image_size={size}: expected a positive multiple of {spatial} "
                          f"(the model down-samples frames {spatial}x), e.g. 256")
    clip_len, center = data.get("clip_len"), data.get("center", REFERENCE_CENTER)
    if isinstance(clip_len, bool) or not isinstance(clip_len, int) or clip_len <= center or clip_len % temporal:
        raise ConfigError(f"data.clip_len={clip_len}: expected a multiple of {temporal} greater than the "
                          f"scored frame index {center} (the reference uses 16)")


def check_ckpt_path(value) -> None:
    if value is not None and value not in RESUME_MODES and not Path(str(value)).expanduser().is_file():
        raise DataError(f"ckpt_path={value}: not found; expected an existing checkpoint file, "
                        f"{' or '.join(RESUME_MODES)}")


def check_train_config(cfg: DictConfig) -> None:
    """Every user-facing rule of a training config; raises a one-line :class:`ConfigError`."""
    check_ranges(cfg)
    check_anomalies(cfg.anomaly)
    check_shapes(cfg.data, cfg.model)
    check_ckpt_path(cfg.ckpt_path)


def check_eval_config(cfg: DictConfig) -> None:
    """The eval CLI's own rule (the checkpoint file itself is checked by :func:`lnta.trainer.checkpoint.load_checkpoint`)."""
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise ConfigError("ckpt_path is required: python -m lnta.eval ckpt_path=path/to/last.ckpt (or a run folder)")
