"""Training clips gathered on the training device: the frames live there, batches carry indices.

With ``data.on_device=true`` the decoded uint8 frames of the training split are copied once to
the training device; the DataLoader then yields only frame indices (``TrainIndices``: the same
index rules and random draws as :class:`TrainClips`, in the same order) and :class:`DeviceFrames`
turns them into the usual ``clip`` / ``skip_clip`` / ``skip_target`` batch on the device. The only
per-step host-to-device transfer is the index batch (B x 2T int64, under 1 KB).
"""
from __future__ import annotations

import torch

from lnta.data.datasets import FRAME_KEYS, TrainClips
from lnta.data.io.store import FrameStore

#: Default of ``data.device_memory_fraction``: on a GPU the frames may take at most this fraction
#: of the free memory (the rest trains).
DEVICE_MEMORY_FRACTION = 0.5


class TrainIndices(TrainClips):
    """:class:`TrainClips` items before gathering: ``video``, ``start`` and frame-index arrays."""

    def __getitem__(self, i: int) -> dict:
        return self.frame_indices(i)


def fits_on(nbytes: int, device: torch.device | str, fraction: float = DEVICE_MEMORY_FRACTION) -> bool:
    """Whether ``nbytes`` of frames may live on ``device``. On the CPU the store's array is used
    in place (no copy), so it always fits; on a GPU it must fit in ``fraction`` of the free memory."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return nbytes <= fraction * free
    return True


class DeviceFrames:
    """A :class:`FrameStore`'s frames as one uint8 tensor on ``device``, gathered by index."""

    def __init__(self, store: FrameStore, device: torch.device | str):
        self.frames = torch.as_tensor(store.frames).to(device)
        self.offsets = torch.as_tensor(store.offsets).to(device)

    @property
    def device(self) -> torch.device:
        return self.frames.device

    def gather(self, video: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Clips (B, 1, T, H, W) uint8 of frames ``index`` (B, T) within videos ``video`` (B,)."""
        rows = (self.offsets[video].unsqueeze(1) + index).flatten()
        return self.frames.index_select(0, rows).view(*index.shape, *self.frames.shape[1:]).unsqueeze(1)

    def gather_batch(self, batch: dict) -> dict:
        """Replace the frame-index entries of a ``TrainIndices`` batch by their clips."""
        out = dict(batch)
        video = out["video"].to(self.device)
        for index_key, clip_key in FRAME_KEYS.items():
            if index_key in out:
                out[clip_key] = self.gather(video, out.pop(index_key).to(self.device))
        return out
