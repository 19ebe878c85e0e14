"""Clip datasets over a FrameStore: uint8 clips plus where they come from."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from lnta.data.sampling import REFERENCE_CENTER, ClipIndex, normal_clip
from lnta.data.io.store import FrameStore


def _torch_randint(n: int) -> int:
    # The torch RNG is seeded per DataLoader worker from the run seed, so draws are repeatable.
    return int(torch.randint(n, ()))


def _item_randint(seed: int | None):
    """Integer draws of one item: from its own seed (see EpochShuffle), else the global torch RNG."""
    if seed is None:
        return _torch_randint
    rng = np.random.default_rng(seed)
    return lambda n: int(rng.integers(n))


def _as_clip(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames).unsqueeze(0)  # (1, T, H, W), uint8


#: Frame-index entries of a :meth:`TrainClips.frame_indices` item and the clip each one makes.
FRAME_KEYS = {"clip_index": "clip", "skip_index": "skip_clip", "target_index": "skip_target"}


class _Clips(Dataset):
    """Every clip of ``store``'s :class:`~lnta.data.sampling.ClipIndex`: ``videos``, ``starts``."""

    def __init__(self, store: FrameStore, clip_len: int):
        self.store, self.clip_len = store, clip_len
        self.index = ClipIndex(store.lengths, clip_len)
        self.videos, self.starts = self.index.videos, self.index.starts

    def __len__(self) -> int:
        return len(self.starts)


class TrainClips(_Clips):
    """Every stride-1 clip of every training video.

    Items: ``clip`` uint8 (1, T, H, W), ``video``, ``start``, and what the ``clip_rules`` of the pseudo
    anomalies add (e.g. :class:`~lnta.data.sampling.SkipPairs`: ``skip_clip``, ``skip_target``, ``skip``).
    A rule is called with ``(start, clip_len, num_frames, randint)`` and returns frame-index entries
    (keys of :data:`FRAME_KEYS`, gathered into clips) and plain values.
    """

    def __init__(self, store: FrameStore, clip_len: int = 16, clip_rules: Sequence[Callable] = ()):
        super().__init__(store, clip_len)
        self.clip_rules = list(clip_rules)

    def frame_indices(self, key: int | tuple[int, int]) -> dict:
        """Item ``key`` before gathering: ``video``, ``start`` and the frame indices of its clips
        (``clip_index`` and those of the clip rules). ``key`` is an index, or ``(index, item seed)`` from
        :class:`~lnta.data.order.EpochShuffle`."""
        i, seed = key if isinstance(key, tuple) else (key, None)
        video, start = int(self.videos[i]), int(self.starts[i])
        length = self.store.lengths[video]
        item = {"video": video, "start": start, "clip_index": normal_clip(start, self.clip_len, length)}
        if self.clip_rules:
            randint = _item_randint(seed)
            for rule in self.clip_rules:
                item.update(rule(start, self.clip_len, length, randint))
        return item

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        item = self.frame_indices(key)
        for index_key, clip_key in FRAME_KEYS.items():
            if index_key in item:
                item[clip_key] = _as_clip(self.store.gather(item["video"], item.pop(index_key)))
        return item


class TestClips(_Clips):
    """Every stride-1 clip of every test video; ``frame`` is the scored (centre) frame and, with
    ``labels`` (one 0/1 array per video of ``store``), ``label`` its frame label."""

    def __init__(self, store: FrameStore, clip_len: int = 16, center: int = REFERENCE_CENTER,
                 labels: Sequence[np.ndarray] | None = None):
        super().__init__(store, clip_len)
        self.center, self.labels = center, labels

    def __getitem__(self, i: int) -> dict:
        video, start = int(self.videos[i]), int(self.starts[i])
        indices = normal_clip(start, self.clip_len, self.store.lengths[video])
        item = {"clip": _as_clip(self.store.gather(video, indices)), "video": video, "frame": start + self.center}
        if self.labels is not None:
            item["label"] = int(self.labels[video][start + self.center])
        return item
