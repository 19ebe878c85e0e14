"""Timing the pseudo-anomaly generation of one batch, for ``lnta.bench`` and the docs."""
from __future__ import annotations

from typing import Mapping

import torch

from lnta.anomaly.patch import PatchAnomaly
from lnta.benchmark.timing import seconds_per_call


def time_pseudo_anomalies(technique: str = "smoothmix_s", intruder: Mapping | None = None, batch_size: int = 4,
                          frames: int = 16, size: int = 256, device: str = "cpu", repeats: int = 5,
                          alpha: float = 0.5, beta: int = 10) -> dict:
    """Seconds to turn a whole batch (B, 1, T, size, size) into patch pseudo anomalies on ``device``.

    Every sample is made pseudo-anomalous (the worst case of the loss switch). Returns the
    settings and ``seconds``, the mean over ``repeats`` timed runs (:mod:`lnta.benchmark.timing`).
    """
    dev = torch.device(device)
    anomaly = PatchAnomaly(1.0, technique, alpha, beta, intruder=intruder).to(dev)
    clips = torch.rand(batch_size, 1, frames, size, size, device=dev) * 2 - 1
    index = torch.arange(batch_size, device=dev)
    seconds = seconds_per_call(lambda: anomaly(clips, {}, index), repeats)
    return {"technique": technique, "intruder": dict(intruder or {"source": "synthetic"}), "device": str(dev),
            "batch_shape": [batch_size, 1, frames, size, size], "repeats": repeats,
            "seconds": seconds}
