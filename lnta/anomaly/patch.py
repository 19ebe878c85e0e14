"""Patch pseudo anomalies: a moving window onto a full-frame intruder image, blended in."""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F

from lnta.anomaly.base import PseudoAnomaly
from lnta.anomaly.intruders import load_intruders
from lnta.anomaly.masks import centre_walk, patch_sizes, smoothmix_s_mask
from lnta.data.normalize import to_unit
from lnta.errors import ConfigError


class PatchAnomaly(PseudoAnomaly):
    """SmoothMixS patch anomaly (the paper's patch pseudo anomaly).

    Per sample: one intruder image, upscaled (bilinear, align_corners=True) to the whole frame;
    patch width and height ``max(10, floor(U[0, alpha) * W))``; a centre uniform in the frame that
    moves by uniform integers in ``[-beta, beta]`` per axis and frame. Per frame t:
    ``X_P[t] = M_t * I + (1 - M_t) * X_N[t]``; the target is the normal clip.
    """

    name = "patch"

    def __init__(self, p: float, alpha: float = 0.5, beta: int = 10,
                 intruder: Mapping | torch.Tensor | None = None):
        super().__init__(p)
        if not 0 < alpha <= 1:
            raise ConfigError(f"anomaly.alpha={alpha}: expected a value in (0, 1]")
        if beta < 0:
            raise ConfigError(f"anomaly.beta={beta}: expected an integer >= 0")
        self.alpha, self.beta = float(alpha), int(beta)
        bank = intruder if isinstance(intruder, torch.Tensor) else load_intruders(**dict(intruder or {"source": "synthetic"}))
        self.register_buffer("bank", bank, persistent=False)

    def intruder_frames(self, n: int, height: int, width: int) -> torch.Tensor:
        """``n`` random intruders in [-1, 1], each upscaled to a whole (H, W) frame: (n, H, W)."""
        images = self.bank[torch.randint(len(self.bank), (n,), device=self.bank.device)]
        images = to_unit(images).unsqueeze(1)
        return F.interpolate(images, size=(height, width), mode="bilinear", align_corners=True).squeeze(1)

    def masks(self, n: int, frames: int, height: int, width: int, device) -> torch.Tensor:
        """(n, T, H, W) SmoothMixS masks with sizes and a moving centre drawn per sample."""
        w = patch_sizes(torch.rand(n, device=device), self.alpha, width)
        h = patch_sizes(torch.rand(n, device=device), self.alpha, height)
        start = torch.stack([torch.randint(width, (n,), device=device),
                             torch.randint(height, (n,), device=device)], dim=1)
        steps = torch.randint(-self.beta, self.beta + 1, (n, frames, 2), device=device)
        centres = centre_walk(start, steps, torch.tensor([width, height], device=device))
        return smoothmix_s_mask(centres[..., 0], centres[..., 1], w[:, None], h[:, None], height, width)

    def forward(self, clips, batch, index):
        normal = clips[index]
        n, _, frames, height, width = normal.shape
        mask = self.masks(n, frames, height, width, normal.device).unsqueeze(1)
        intruder = self.intruder_frames(n, height, width)[:, None, None]
        # lerp = M * I + (1 - M) * X_N in one pass (no full-size temporaries)
        return torch.lerp(normal, intruder.expand_as(normal), mask), normal
