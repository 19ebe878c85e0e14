"""The numeric rules of the ``anomaly`` config group (one type, or several under ``types.NAME``), beside its code.

The rule functions check one value and return it as its type; the pseudo-anomaly constructors call them too,
so the Python API enforces the same rules as the command line (:data:`RANGES`, checked by every command).
"""
from __future__ import annotations

import numbers

from lnta.errors import ConfigError
from lnta.validate import COUNT, POSITIVE, Range, number


def probability(key: str, value) -> float:
    p = number(key, value, "a probability in [0, 1]")
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
    alpha = number(key, value, "a value in (0, 1]")
    if not 0 < alpha <= 1:
        raise ConfigError(f"{key}={value}: expected a value in (0, 1] (max patch side / frame side)")
    return alpha


def patch_beta(key: str, value) -> int:
    beta = number(key, value, "an integer >= 0 (pixels)")
    if beta < 0 or int(beta) != beta:
        raise ConfigError(f"{key}={value}: expected an integer >= 0 (max centre move in pixels)")
    return int(beta)


#: Every numeric key of the group, for one type (``anomaly.KEY``) and for each of several (``anomaly.types.NAME.KEY``).
RANGES = {f"{prefix}.{key}": rule for prefix in ("anomaly", "anomaly.types.*") for key, rule in {
    "p": probability, "skips": skip_set, "alpha": patch_alpha, "beta": patch_beta,
    "steal_margin": POSITIVE, "intruder.size": Range(low=1, none=True),
    "intruder.max_images": COUNT, "intruder.clip_len": COUNT,
    "intruder.crop_scale": Range(integer=False, low=0, high=1, open_low=True, items=True),
    "intruder.crop_ratio": Range(integer=False, low=0, open_low=True, items=True),
    "intruder.flip": probability, "intruder.sigma": POSITIVE,
    "repeats": Range(low=2, items=True)}.items()}
