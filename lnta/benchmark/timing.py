"""The one timing harness of ``lnta.bench``: ``torch.utils.benchmark.Timer``."""
from __future__ import annotations

from typing import Callable

import torch
from torch.utils.benchmark import Timer


def timer_warmup(calls: int) -> int:
    """Untimed calls ``Timer.timeit(calls)`` makes before its timed block."""
    return max(calls // 100, 2)


def seconds_per_call(fn: Callable[[], object], calls: int) -> float:
    """Mean wall seconds of one ``fn()`` over one timed block of ``calls`` calls, after
    :func:`timer_warmup` untimed calls (``torch.utils.benchmark.Timer.timeit``).

    The Timer runs with the process's torch thread count (its own default is one thread) and
    synchronises the accelerator at both ends of the block, so queued GPU work is included.
    """
    if calls < 1:
        raise ValueError(f"calls={calls}: expected at least one timed call")
    timer = Timer("fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.timeit(calls).mean
