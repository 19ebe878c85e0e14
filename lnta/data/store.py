"""A split's decoded frames: one uint8 array of all frames plus per-video offsets."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lnta.data.frames import list_videos, read_video_folder


@dataclass
class FrameStore:
    """Decoded grayscale frames of one split, videos concatenated in sorted order.

    ``frames`` is uint8 (N, H, W) — an in-memory array or a ``np.memmap`` of a cache; clips are
    gathered from it by index, so it never has to be decoded twice.
    """

    names: list[str]
    lengths: list[int]
    frames: np.ndarray

    def __post_init__(self):
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.frames.shape[1:])

    def gather(self, video: int, indices: np.ndarray) -> np.ndarray:
        """Frames ``indices`` (within the video) of video number ``video``: uint8 (T, H, W)."""
        return np.asarray(self.frames[self.offsets[video] + indices])

    @classmethod
    def from_frame_folders(cls, split_dir: Path, size) -> "FrameStore":
        videos = list_videos(split_dir)
        decoded = [read_video_folder(v, size) for v in videos]
        return cls([v.name for v in videos], [len(d) for d in decoded], np.concatenate(decoded))
