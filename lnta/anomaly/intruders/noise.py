"""Gaussian-noise intruders: the patch pseudo anomaly's mask techniques with noise as the pasted content."""
from __future__ import annotations

import numbers
from typing import Dict, Tuple

import torch
from kornia.augmentation.random_generator import RandomGeneratorBase

from lnta.anomaly.intruders.banks import IntruderBank, draw_count, expand_draw
from lnta.errors import ConfigError


class NoiseBank(IntruderBank):
    """Intruder frames of i.i.d. Gaussian noise, ``clamp(N(0, sigma²), -1, 1)`` per pixel and per frame.

    Selected by ``anomaly.intruder.source: noise`` (``anomaly.intruder.sigma``, in [-1, 1] units: 0.5
    is 64 grey levels); :class:`~lnta.anomaly.augment.PatchMix3D` pastes it through the chosen mask
    (SmoothMixS by default), so ``X_P[t] = M_t * noise_t + (1 - M_t) * X[t]``. Unlike the image banks
    it stores no images: the noise is drawn with the torch RNG of the bank's device (seeded by the run
    seed) as a parameter, ``intruder_noise`` (B, T, H, W), so ``aug(x, params=saved)`` replays it.
    """

    def __init__(self, sigma: float = 0.5):
        RandomGeneratorBase.__init__(self)  # no image store: IntruderBank's own __init__ requires images
        if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not sigma > 0:
            raise ConfigError(f"anomaly.intruder.sigma={sigma}: expected a standard deviation > 0 ([-1, 1] units)")
        self.sigma = float(sigma)
        self.register_buffer("anchor", torch.empty(0), persistent=False)  # follows the module's device

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"NoiseBank(sigma={self.sigma})"

    def forward(self, batch_shape: Tuple[int, ...], same_on_batch: bool = False) -> Dict[str, torch.Tensor]:
        n, frames, (height, width) = draw_count(batch_shape, same_on_batch), batch_shape[2], batch_shape[-2:]
        noise = torch.randn(n, frames, height, width, device=self.anchor.device) * self.sigma
        return expand_draw({"intruder_noise": noise.clamp_(-1, 1)}, batch_shape[0])

    def frames(self, params: Dict[str, torch.Tensor], frames: int, height: int, width: int) -> torch.Tensor:
        """The drawn noise, (B, T, H, W) in [-1, 1]."""
        return params["intruder_noise"]
