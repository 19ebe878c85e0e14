"""What the command-line entry points share: building objects from the config, clear errors."""
from __future__ import annotations

import functools
import logging
import os
import sys

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from lnta.anomaly.base import PseudoAnomaly
from lnta.errors import ConfigError, LntaError

log = logging.getLogger("lnta")


def user_error(exc: BaseException) -> LntaError | None:
    """The user-facing error behind ``exc`` (Hydra wraps errors raised while instantiating)."""
    while exc is not None:
        if isinstance(exc, LntaError):
            return exc
        exc = exc.__cause__ if isinstance(exc, InstantiationException) else None
    return None


def clear_errors(task):
    """Run ``task``; a user error prints one line and exits 2 (full traceback with HYDRA_FULL_ERROR=1)."""

    @functools.wraps(task)
    def wrapper(cfg: DictConfig):
        try:
            return task(cfg)
        except Exception as exc:  # noqa: BLE001 - filtered just below
            error = user_error(exc)
            if error is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)

    return wrapper


def build_anomalies(cfg: DictConfig) -> list[PseudoAnomaly]:
    """Pseudo-anomaly types from ``anomaly``: one type (``_target_``) or several (``types``)."""
    if "_target_" in cfg:
        specs = [cfg]
    else:
        specs = list((cfg.get("types") or {}).values())
    anomalies = [hydra.utils.instantiate(spec, _convert_="object") for spec in specs]
    total = sum(a.p for a in anomalies)
    if total > 1 + 1e-9:
        raise ConfigError(f"anomaly.types: the probabilities p sum to {total:g}; expected at most 1 (one type per sample)")
    return anomalies


def build_list(cfg: DictConfig | None) -> list:
    """Instantiate every ``_target_`` block of a group like ``callbacks`` or ``logger``."""
    return [hydra.utils.instantiate(c) for c in (cfg or {}).values() if c and "_target_" in c]
