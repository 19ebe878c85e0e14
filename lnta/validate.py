"""Start-up checks of the user's config: each rule lives here once and names the offending key.

The CLIs call :func:`check_train_config` / :func:`check_eval_config` before building anything, so
a typo fails in a second with one line (``anomaly.p=1.5: expected a probability in [0, 1]``)
instead of after hours, or with a traceback. The pseudo-anomaly constructors call the same rule
functions, so the Python API enforces identical rules.
"""
from __future__ import annotations

import numbers
from pathlib import Path
from typing import Iterator

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


def check_shapes(data: DictConfig, model: DictConfig) -> None:
    """Image size and clip length must suit the model's down-sampling (and the scored frame)."""
    model_class = hydra.utils.get_class(model._target_)
    spatial = getattr(model_class, "spatial_factor", 1)
    temporal = getattr(model_class, "temporal_factor", 1)
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
    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int) or not 0 <= cfg.seed < 2**32:
        raise ConfigError(f"seed={cfg.seed}: expected an integer in [0, 2**32)")
    check_anomalies(cfg.anomaly)
    check_shapes(cfg.data, cfg.model)
    check_ckpt_path(cfg.ckpt_path)


def check_eval_config(cfg: DictConfig) -> None:
    """The eval CLI's own rule (the checkpoint file itself is checked by :func:`lnta.checkpoint.load_checkpoint`)."""
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise ConfigError("ckpt_path is required: python -m lnta.eval ckpt_path=path/to/last.ckpt (or a run folder)")
