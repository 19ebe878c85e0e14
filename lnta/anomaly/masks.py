"""Pure tensor rules for patch pseudo anomalies: sizes, the moving centre, the blend masks."""
from __future__ import annotations

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
    dev = cx.device
    xs = torch.arange(width, device=dev, dtype=torch.float32)
    ys = torch.arange(height, device=dev, dtype=torch.float32)
    rx = _smooth_ramp(xs, cx[..., None].float(), torch.div(w, 2, rounding_mode="floor")[..., None].float(), width)
    ry = _smooth_ramp(ys, cy[..., None].float(), torch.div(h, 2, rounding_mode="floor")[..., None].float(), height)
    return ry[..., :, None] * rx[..., None, :]
