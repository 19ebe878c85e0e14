"""A split's decoded frames: one uint8 array of all frames plus per-video offsets."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lnta.data.io.frames import resize_gray
from lnta.data.io.video import open_video
from lnta.data.sampling import video_offsets


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
        self.offsets = video_offsets(self.lengths)

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.frames.shape[1:])

    def gather(self, video: int, indices: np.ndarray) -> np.ndarray:
        """Frames ``indices`` (within the video) of video number ``video``: uint8 (T, H, W)."""
        return np.asarray(self.frames[self.offsets[video] + indices])

    @classmethod
    def decode(cls, videos: list[tuple[str, Path]], size, backend: str = "auto") -> "FrameStore":
        """Decode ``(name, frame folder or video file)`` pairs into memory, grayscale at ``size``."""
        decoded = [np.concatenate(list(resized_chunks(path, size, backend))) for _, path in videos]
        return cls([name for name, _ in videos], [len(d) for d in decoded], np.concatenate(decoded))


def resized_chunks(path: Path, size, backend: str = "auto", chunk: int = 64):
    """The frames of one video in order, grayscale and resized, ``chunk`` at a time (bounded memory)."""
    for frames in open_video(path, backend).chunks(chunk):
        yield resize_gray(frames, size)
