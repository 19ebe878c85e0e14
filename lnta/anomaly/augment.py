"""Patch pseudo anomalies as a kornia 3D augmentation with its own parameter generator.

``PatchMix3D`` works on (B, C, T, H, W) float clips in [-1, 1]. Its parameters (sizes, the
per-frame centres, which intruder and how it is cropped) are drawn by :class:`PatchParams` and
the intruder bank, and are kept in ``aug._params``: ``aug(x, params=saved)`` replays a batch
exactly, and the module composes with other kornia 3D augmentations.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
from kornia.augmentation import AugmentationBase3D
from kornia.augmentation.random_generator import RandomGeneratorBase

from lnta.anomaly.intruders.banks import IntruderBank, draw_count, expand_draw
from lnta.anomaly.masks import TECHNIQUES, centre_walk, patch_sizes
from lnta.errors import ConfigError
from lnta.anomaly.settings import patch_alpha, patch_beta


def check_patch_settings(technique: str, alpha: float, beta: int) -> None:
    """One-line errors for a technique name, ``alpha`` and ``beta`` out of range."""
    if technique not in TECHNIQUES:
        raise ConfigError(f"anomaly.technique={technique!r}: expected one of {', '.join(TECHNIQUES)}")
    patch_alpha("anomaly.alpha", alpha)
    patch_beta("anomaly.beta", beta)


class PatchParams(RandomGeneratorBase):
    """Per-sample sizes ``max(10, floor(U[0, alpha) * side))`` (w, h or sigmas) and per-frame centres.

    The start centre is uniform in ``[0, W - 1]`` (``[0, W]`` for SmoothMixC, as the reference
    draws it), then walks by uniform integers in ``[-beta, beta]`` per axis and frame, clamped to
    ``[0, W]``. Returns ``size`` (B, 2) as (x, y) and ``centres`` (B, T, 2) as (x, y).
    """

    def __init__(self, alpha: float, beta: int, centre_inclusive: bool = False):
        super().__init__()
        self.alpha, self.beta, self.centre_inclusive = float(alpha), int(beta), centre_inclusive

    def make_samplers(self, device, dtype) -> None:
        """Draws use the torch RNG of ``self.device`` (seeded by the run seed)."""

    def __repr__(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}"

    def forward(self, batch_shape: Tuple[int, ...], same_on_batch: bool = False) -> Dict[str, torch.Tensor]:
        n, frames, (height, width) = draw_count(batch_shape, same_on_batch), batch_shape[2], batch_shape[-2:]
        dev = self.device
        size = torch.stack([patch_sizes(torch.rand(n, device=dev), self.alpha, width),
                            patch_sizes(torch.rand(n, device=dev), self.alpha, height)], dim=1)
        extra = int(self.centre_inclusive)
        start = torch.stack([torch.randint(width + extra, (n,), device=dev),
                             torch.randint(height + extra, (n,), device=dev)], dim=1)
        steps = torch.randint(-self.beta, self.beta + 1, (n, frames, 2), device=dev)
        centres = centre_walk(start, steps, torch.tensor([width, height], device=dev))
        return expand_draw({"size": size, "centres": centres}, batch_shape[0])


class PatchMix3D(AugmentationBase3D):
    """Blend a moving patch of an intruder into every frame: ``X_P[t] = M_t * I_t + (1 - M_t) * X[t]``.

    ``technique`` picks the mask (:data:`lnta.anomaly.masks.TECHNIQUES`): ``smoothmix_s`` (box with
    linear ramps), ``smoothmix_c`` (Gaussian, sigmas from ``alpha``), ``cutmix`` (hard box) or
    ``mixup_patch`` (0.5/0.5 inside a hard box). ``p`` is kornia's per-sample gate (1 by default:
    in lnta the loss switch has already chosen the samples).
    """

    def __init__(self, intruders: IntruderBank, technique: str = "smoothmix_s", alpha: float = 0.5,
                 beta: int = 10, p: float = 1.0, same_on_batch: bool = False):
        super().__init__(p=p, same_on_batch=same_on_batch)
        check_patch_settings(technique, alpha, beta)
        self.intruders = intruders
        self._param_generator = PatchParams(alpha, beta, TECHNIQUES[technique].centre_inclusive)
        self.flags = {"technique": technique}

    def generate_parameters(self, batch_shape: Tuple[int, ...]) -> Dict[str, torch.Tensor]:
        params = self._param_generator(batch_shape, self.same_on_batch)
        params.update(self.intruders(batch_shape, self.same_on_batch))
        return params

    def masks(self, params: Dict[str, torch.Tensor], height: int, width: int, technique: str) -> torch.Tensor:
        """(B, T, H, W) masks of the technique at the per-frame centres."""
        centres, size = params["centres"], params["size"]
        return TECHNIQUES[technique].mask(centres[..., 0], centres[..., 1], size[:, None, 0], size[:, None, 1],
                                          height, width)

    def apply_transform(self, input: torch.Tensor, params: Dict[str, torch.Tensor], flags: Dict[str, Any],
                        transform: Optional[torch.Tensor] = None) -> torch.Tensor:
        _, _, frames, height, width = input.shape
        mask = self.masks(params, height, width, flags["technique"]).unsqueeze(1).to(input.dtype)
        intruder = self.intruders.frames(params, frames, height, width).unsqueeze(1).to(input.dtype)
        # lerp is M * I + (1 - M) * X in one pass (a broadcast product is ~20x slower on CPU)
        return torch.lerp(input, intruder.expand_as(input), mask)
