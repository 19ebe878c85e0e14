"""Patch pseudo anomalies: a moving window onto an intruder, blended into the normal clip."""
from __future__ import annotations

from typing import Mapping

import torch

from lnta.anomaly.augment import PatchMix3D, check_patch_settings
from lnta.anomaly.intruders.banks import IntruderBank
from lnta.anomaly.base import PseudoAnomaly
from lnta.anomaly.intruders.sources import build_intruders


class PatchAnomaly(PseudoAnomaly):
    """The paper's patch pseudo anomaly (default SmoothMixS) and its variants.

    Per sample: one intruder (a CIFAR image stretched to the frame, an ImageNet-style random
    resized crop, a moving training clip, or Gaussian noise), a size ``max(10, floor(U[0, alpha) * W))`` per axis,
    a centre that moves by uniform integers in ``[-beta, beta]`` per axis and frame; the mask of
    ``technique`` blends it in per frame (:class:`~lnta.anomaly.augment.PatchMix3D`). The target is
    the normal clip. ``intruder`` is the ``anomaly.intruder`` mapping (see
    :func:`~lnta.anomaly.intruders.sources.build_intruders`) or a ready :class:`IntruderBank`.
    """

    name = "patch"

    def __init__(self, p: float, technique: str = "smoothmix_s", alpha: float = 0.5, beta: int = 10,
                 intruder: Mapping | IntruderBank | None = None, **kwargs):
        super().__init__(p, **kwargs)
        check_patch_settings(technique, alpha, beta)   # before a possibly long intruder load
        bank = intruder if isinstance(intruder, IntruderBank) else build_intruders(**dict(intruder or {"source": "synthetic"}))
        self.augment = PatchMix3D(bank, technique, alpha, beta)

    def forward(self, clips: torch.Tensor, batch: dict, index: torch.Tensor):
        normal = clips[index]
        return self.augment(normal), normal
