"""Pure tensor rules for patch pseudo anomalies: sizes, the moving centre, the blend masks.

Every mask function takes per-frame centres ``cx, cy`` and per-sample sizes of any matching
leading shape (usually (B, T) and (B, 1)) and returns masks (..., H, W) in [0, 1]; the pseudo
frame is ``M * intruder + (1 - M) * normal``.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch

#: The reference's smallest patch side (and smallest SmoothMixC sigma), in pixels.
MIN_PATCH = 10
#: SmoothMixS ramp width as a fraction of the half-size.
RAMP_FRACTION = 0.1


def patch_sizes(u: torch.Tensor, alpha: float, extent: int) -> torch.Tensor:
    """``max(10, floor(u * alpha * extent))`` for uniform draws ``u`` in [0, 1)."""
    return torch.clamp(torch.floor(u * alpha * extent), min=MIN_PATCH)


def centre_walk(start: torch.Tensor, steps: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """Centres of a random walk, clamped to ``[0, upper]`` (per axis) after every step.

    ``start`` (B, 2) is the centre of frame 0; ``steps`` (B, T, 2) are the integer moves drawn
    per frame (the move drawn at frame t takes effect from frame t + 1). Returns (B, T, 2).
    """
    centres = [start]
    for t in range(steps.shape[1] - 1):
        centres.append(torch.minimum(torch.clamp(centres[-1] + steps[:, t], min=0), upper))
    return torch.stack(centres, dim=1)


def _grid(centre: torch.Tensor, extent: int) -> torch.Tensor:
    """Pixel coordinates ``0 .. extent - 1`` as floats on the device of ``centre``."""
    return torch.arange(extent, device=centre.device, dtype=torch.float32)


def _smooth_ramp(coord: torch.Tensor, centre: torch.Tensor, half: torch.Tensor,
                 extent: int) -> torch.Tensor:
    """One axis of SmoothMixS: 1 on the clipped box, linear ramps of ``0.1 * half`` outside it."""
    lo_edge = torch.clamp(centre - half, 0, extent)
    hi_edge = torch.clamp(centre + half, 0, extent)
    ramp = RAMP_FRACTION * half
    rising = (coord - (lo_edge - ramp)) / ramp
    falling = ((hi_edge + ramp) - coord) / ramp
    return torch.where(coord < centre, rising, falling).clamp_(0, 1)


def smoothmix_s_mask(cx: torch.Tensor, cy: torch.Tensor, w: torch.Tensor, h: torch.Tensor,
                     height: int, width: int) -> torch.Tensor:
    """SmoothMixS masks (..., H, W) for centres and sizes of any matching leading shape.

    With ``hx = w // 2`` the box ``[cx - hx, cx + hx]`` (clipped to the frame) is 1 and a linear
    ramp of width ``0.1 * hx`` falls to 0 outside it; the same along y; the mask is the product
    of the two ramps — the reference's per-pixel loop, as tensor code.
    """
    xs, ys = _grid(cx, width), _grid(cy, height)
    rx = _smooth_ramp(xs, cx[..., None].float(), torch.div(w, 2, rounding_mode="floor")[..., None].float(), width)
    ry = _smooth_ramp(ys, cy[..., None].float(), torch.div(h, 2, rounding_mode="floor")[..., None].float(), height)
    return ry[..., :, None] * rx[..., None, :]


def gaussian_mask(cx: torch.Tensor, cy: torch.Tensor, sx: torch.Tensor, sy: torch.Tensor,
                  height: int, width: int) -> torch.Tensor:
    """SmoothMixC masks: ``exp(-(x-cx)^2 / 2sx^2) * exp(-(y-cy)^2 / 2sy^2)``, peak 1 at the centre.

    (kornia's Gaussian kernels are normalised to sum 1 and centred on the kernel, so they do not fit.)
    """
    gx = torch.exp(-(_grid(cx, width) - cx[..., None].float()) ** 2 / (2 * sx[..., None].float() ** 2))
    gy = torch.exp(-(_grid(cy, height) - cy[..., None].float()) ** 2 / (2 * sy[..., None].float() ** 2))
    return gy[..., :, None] * gx[..., None, :]


def box_bounds(centre: torch.Tensor, size: torch.Tensor, extent: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference CutMix box along one axis: ``lo = clip(c - size // 2)``, ``hi = clip(lo + size)``."""
    lo = torch.clamp(centre - torch.div(size, 2, rounding_mode="floor"), 0, extent)
    return lo, torch.clamp(lo + size, 0, extent)


def box_mask(cx: torch.Tensor, cy: torch.Tensor, w: torch.Tensor, h: torch.Tensor,
             height: int, width: int) -> torch.Tensor:
    """CutMix masks: 1 on columns ``[x1, x2)`` and rows ``[y1, y2)`` of :func:`box_bounds`, else 0."""
    x1, x2 = box_bounds(cx.float(), w.float(), width)
    y1, y2 = box_bounds(cy.float(), h.float(), height)
    xs, ys = _grid(cx, width), _grid(cy, height)
    inside_x = (xs >= x1[..., None]) & (xs < x2[..., None])
    inside_y = (ys >= y1[..., None]) & (ys < y2[..., None])
    return (inside_y[..., :, None] & inside_x[..., None, :]).float()


def mixup_patch_mask(cx, cy, w, h, height: int, width: int) -> torch.Tensor:
    """MixUp-patch masks: 0.5 inside the CutMix box (``0.5 * I + 0.5 * X``), 0 outside."""
    return 0.5 * box_mask(cx, cy, w, h, height, width)


class Technique(NamedTuple):
    """A patch technique: its mask rule and whether the start centre may be the frame size itself."""

    mask: Callable[..., torch.Tensor]
    centre_inclusive: bool = False   # SmoothMixC draws random.randint(0, W): W included


#: The patch techniques by config name (``anomaly.technique``); sizes are widths/heights or sigmas.
TECHNIQUES: dict[str, Technique] = {
    "smoothmix_s": Technique(smoothmix_s_mask),
    "smoothmix_c": Technique(gaussian_mask, centre_inclusive=True),
    "cutmix": Technique(box_mask),
    "mixup_patch": Technique(mixup_patch_mask),
}
