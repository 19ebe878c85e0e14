"""Start-up checks of the user's config: the range rule engine (:class:`Range`, :func:`check_ranges`).

Each config group's numeric rules live beside its code (``lnta/<package>/settings.py``: data, models,
anomaly, trainer, callbacks, metrics; the commands' own keys in :mod:`lnta.cli.settings`, which gathers
them all); every command checks its whole config against them once, before building anything, so a typo
fails in a second with one line (``anomaly.p=1.5: expected a probability in [0, 1]``) instead of after
hours, or with a traceback. The checks that span groups (shapes against the model, the checkpoint to
resume) are the commands' (:mod:`lnta.cli.settings`).
"""
from __future__ import annotations

import fnmatch
import math
import numbers
from dataclasses import dataclass
from typing import Callable, Iterator

from omegaconf import DictConfig, OmegaConf

from lnta.errors import ConfigError

def number(key: str, value, expected: str) -> float:
    """``value`` as a float, or a :class:`ConfigError` ``KEY=VALUE: expected EXPECTED`` when it is not a real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{key}={value}: expected {expected}")
    return float(value)


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


COUNT = Range(low=1)          # sizes, counts and intervals that must be positive
NATURAL = Range(low=0)        # counts where 0 means none
SEED = Range(low=0, high=2**32, open_high=True)
POSITIVE = Range(integer=False, low=0, open_low=True)
FRACTION = Range(integer=False, low=0, high=1, open_low=True, open_high=True)   # rates and quantiles in (0, 1)


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


def range_rule(key: str, rules: dict) -> Callable[[str, object], None] | None:
    """The rule of the setting ``key`` (e.g. ``data.batch_size``) in ``rules`` (full key, or a pattern where
    ``*`` matches one key level, -> rule), or None for a non-numeric setting."""
    return rules.get(key) or next((rule for pattern, rule in rules.items()
                                   if "*" in pattern and fnmatch.fnmatchcase(key, pattern)), None)


def check_ranges(cfg: DictConfig, rules: dict) -> None:
    """Every numeric setting in ``cfg`` that ``rules`` knows (:func:`lnta.cli.settings.all_ranges`: each config
    group's table, kept beside its code), against its range; raises a one-line :class:`ConfigError`
    (``data.batch_size=0: expected an integer >= 1``). Interpolated and missing (``???``) values are
    skipped: they are checked where they are set."""
    for full, parent, key in _leaves(cfg):
        rule = range_rule(full, rules)
        if rule is None or full.startswith("hydra.") or OmegaConf.is_interpolation(parent, key) \
                or OmegaConf.is_missing(parent, key):
            continue
        value = parent[key]
        rule(full, OmegaConf.to_container(value) if OmegaConf.is_config(value) else value)
