"""Intruder banks: compact uint8 tensors on the training device plus their own parameter generators.

A bank is a kornia parameter generator (``bank(batch_shape)`` draws which intruder each sample
gets, and how it is cropped or flipped) and renders intruder frames from those parameters
(``bank.frames(params, T, H, W)``), so a batch can be replayed from its saved parameters.
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
import torch
from kornia.augmentation.random_generator import RandomGeneratorBase, ResizedCropGenerator
from kornia.geometry.transform import crop_and_resize, hflip, resize, vflip

from lnta.data.transforms import to_unit
from lnta.data.sampling import ClipIndex
from lnta.errors import ConfigError


def draw_count(batch_shape: Tuple[int, ...], same_on_batch: bool) -> int:
    return 1 if same_on_batch else batch_shape[0]


def expand_draw(params: Dict[str, torch.Tensor], batch: int) -> Dict[str, torch.Tensor]:
    """Broadcast one draw (``same_on_batch``) to the whole batch."""
    return {k: v.expand(batch, *v.shape[1:]) if len(v) == 1 else v for k, v in params.items()}


class IntruderBank(RandomGeneratorBase):
    """uint8 intruder images (N, h, w) as a non-persistent buffer that follows the module's device."""

    def __init__(self, images: torch.Tensor):
        super().__init__()
        if images.ndim != 3 or len(images) == 0 or images.dtype != torch.uint8:
            raise ConfigError(f"intruder bank: expected a non-empty uint8 (N, h, w) tensor, got "
                              f"{tuple(images.shape)} {images.dtype}")
        self.register_buffer("images", images, persistent=False)

    def make_samplers(self, device, dtype) -> None:
        """Draws use the torch RNG of the bank's device (seeded by the run seed)."""

    def __len__(self) -> int:
        return len(self.images)

    def draw_index(self, n: int) -> torch.Tensor:
        return torch.randint(len(self.images), (n,), device=self.images.device)

    def forward(self, batch_shape: Tuple[int, ...], same_on_batch: bool = False) -> Dict[str, torch.Tensor]:
        n = draw_count(batch_shape, same_on_batch)
        return expand_draw({"intruder_index": self.draw_index(n)}, batch_shape[0])

    def frames(self, params: Dict[str, torch.Tensor], frames: int, height: int, width: int) -> torch.Tensor:
        """Intruders in [-1, 1] as (B, 1 or T, H, W): one still image per sample, stretched to the frame.

        The reference's CIFAR path: bilinear, ``align_corners=True`` upscaling to the whole frame,
        so the patch is a window onto the full-frame image.
        """
        images = to_unit(self.images[params["intruder_index"]]).unsqueeze(1)
        return resize(images, (height, width), interpolation="bilinear", align_corners=True)


class CropBank(IntruderBank):
    """ImageNet-style intruders: RandomResizedCrop to the frame size, random horizontal and vertical flips.

    The crop box is drawn by kornia's ``ResizedCropGenerator`` (``scale``: area fraction range,
    ``ratio``: aspect range; torchvision's defaults) on the stored images, which are kept square at
    ``images.shape[-1]`` pixels; each flip happens with probability ``flip``.
    """

    def __init__(self, images: torch.Tensor, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), flip: float = 0.5):
        super().__init__(images)
        self.flip = float(flip)
        side = images.shape[-1]
        self.crop = ResizedCropGenerator((side, side), scale=torch.tensor(scale), ratio=torch.tensor(ratio))

    def forward(self, batch_shape, same_on_batch: bool = False):
        n = draw_count(batch_shape, same_on_batch)
        device = self.images.device
        crop = self.crop((n, *self.images.shape[1:]))
        return expand_draw({"intruder_index": self.draw_index(n), "intruder_box": crop["src"].to(device),
                        "intruder_hflip": torch.rand(n, device=device) < self.flip,
                        "intruder_vflip": torch.rand(n, device=device) < self.flip}, batch_shape[0])

    def frames(self, params, frames, height, width):
        images = to_unit(self.images[params["intruder_index"]]).unsqueeze(1)
        out = crop_and_resize(images, params["intruder_box"].float(), (height, width), align_corners=True)
        out = torch.where(params["intruder_hflip"][:, None, None, None], hflip(out), out)
        return torch.where(params["intruder_vflip"][:, None, None, None], vflip(out), out)


class ClipBank(IntruderBank):
    """Video intruders: a random training clip of ``clip_len`` frames, pasted frame by frame.

    ``images`` are all frames of the videos, concatenated; ``lengths`` the frames per video. Every
    stride-1 clip inside one video is a candidate (the rows of its :class:`~lnta.data.sampling.ClipIndex`).
    """

    def __init__(self, images: torch.Tensor, lengths, clip_len: int = 16):
        super().__init__(images)
        starts = ClipIndex(lengths, clip_len).rows
        if len(starts) == 0:
            raise ConfigError(f"intruder clips: no video has {clip_len} frames")
        self.clip_len = int(clip_len)
        self.register_buffer("starts", torch.from_numpy(starts.astype(np.int64)), persistent=False)

    def draw_index(self, n: int) -> torch.Tensor:
        return self.starts[torch.randint(len(self.starts), (n,), device=self.starts.device)]

    def frames(self, params, frames, height, width):
        if frames != self.clip_len:
            raise ConfigError(f"anomaly.intruder.clip_len={self.clip_len}: must equal the clip length {frames}")
        index = params["intruder_index"][:, None] + torch.arange(frames, device=self.images.device)
        clips = to_unit(self.images[index])                        # (B, T, h, w)
        if clips.shape[-2:] != (height, width):
            clips = resize(clips, (height, width), interpolation="bilinear", align_corners=False)
        return clips
