"""Clip index rules as pure functions: which frame indices make a clip (METHOD.md, "Data and clips")."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

#: The reference scores the 9th frame (index 8) of each 16-frame clip.
REFERENCE_CENTER = 8
#: The reference re-draws a too-short skip clip's start this many times before clamping.
SKIP_REDRAWS = 10


def clip_starts(num_frames: int, clip_len: int) -> np.ndarray:
    """Every stride-1 start of a clip inside a video: ``num_frames - clip_len + 1`` of them."""
    return np.arange(max(0, num_frames - clip_len + 1))


def normal_clip(start: int, clip_len: int, num_frames: int) -> np.ndarray:
    """Consecutive frames ``start .. start + clip_len - 1``, clamped to the last frame."""
    return np.minimum(start + np.arange(clip_len), num_frames - 1)


def skip_clip(start: int, skip: int, clip_len: int, num_frames: int) -> np.ndarray:
    """Frames ``start, start + s, ..., start + (clip_len - 1) s``, clamped to the last frame."""
    return np.minimum(start + skip * np.arange(clip_len), num_frames - 1)


def skip_clip_pair(start: int, skips: Sequence[int], clip_len: int, num_frames: int,
                   randint: Callable[[int], int]) -> tuple[np.ndarray, np.ndarray, int]:
    """The reference skip-frame rule: returns ``(skip_indices, normal_indices, s)``.

    ``randint(n)`` draws a uniform integer in ``[0, n)``. ``s`` is drawn uniformly from ``skips``. While the video is too short for the skip clip
    (``num_frames < start + (clip_len - 1) s``) the start is re-drawn uniformly in
    ``[0, num_frames)``, at most ``SKIP_REDRAWS`` times; indices are then clamped to the last
    frame. The normal (target) clip uses the same final start.
    """
    s = int(skips[randint(len(skips))])
    redraws = 0
    while num_frames < start + (clip_len - 1) * s and redraws < SKIP_REDRAWS:
        start = int(randint(num_frames))
        redraws += 1
    return skip_clip(start, s, clip_len, num_frames), normal_clip(start, clip_len, num_frames), s


def scored_frames(num_frames: int, clip_len: int, center: int = REFERENCE_CENTER) -> np.ndarray:
    """Frames that receive a score without padding: ``center .. num_frames - clip_len + center``.

    With the reference 16/8 the first 8 and last 7 frames of each video are dropped.
    """
    return clip_starts(num_frames, clip_len) + center
