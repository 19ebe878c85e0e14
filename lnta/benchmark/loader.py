"""Data-pipeline throughput: training clips per second from the prepared cache or from frame files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from lnta.benchmark.timing import seconds_per_call, timer_warmup
from lnta.data.io.cache import cache_path, open_cache
from lnta.data.datasets import TrainClips
from lnta.data.sampling import SkipPairs
from lnta.data.io.frames import resize_gray
from lnta.data.labels.layouts import find_layout
from lnta.data.io.video import open_video
from lnta.errors import DataError

SOURCES = ("cache", "frames")


class ReadingStore:
    """FrameStore's ``gather`` over the original files: every clip decodes its frames again."""

    def __init__(self, videos: list[tuple[str, Path]], size):
        self.names = [name for name, _ in videos]
        self.readers = [open_video(path) for _, path in videos]
        self.lengths = [len(r) for r in self.readers]
        self.size = size

    def gather(self, video: int, indices: np.ndarray) -> np.ndarray:
        return resize_gray(self.readers[video].read(indices), self.size)


def loader_clips_per_s(root: str | Path, source: str = "cache", num_workers: int = 2, clip_len: int = 16,
                       image_size: int = 256, batch_size: int = 4, batches: int = 50,
                       cache_dir: str | None = None, seed: int = 0) -> float:
    """Clips per second delivered by a shuffled training DataLoader over ``root``'s training split.

    ``source``: ``cache`` (the ``python -m lnta.prepare`` cache at ``image_size``, memory-mapped) or
    ``frames`` (decode the frame files or videos of every clip); timed by :func:`store_clips_per_s`.
    """
    if source not in SOURCES:
        raise DataError(f"source={source}: expected one of {', '.join(SOURCES)}")
    if source == "cache":
        store = open_cache(cache_path(root, image_size, cache_dir), "train", image_size)
        if store is None:
            raise DataError(f"{cache_path(root, image_size, cache_dir)}: no cache; run python -m lnta.prepare")
    else:
        store = ReadingStore(find_layout(Path(root)).train, image_size)
    return store_clips_per_s(store, clip_len, batch_size, num_workers, batches, seed=seed)


def store_clips_per_s(store, clip_len: int = 16, batch_size: int = 4, num_workers: int = 2, batches: int = 50,
                      repeats: int = 1, skips=None, seed: int = 0) -> float:
    """Training items per second out of a shuffled :class:`TrainClips` DataLoader over ``store`` (a
    clip, plus its skip-frame pair with ``skips``, the set of :class:`~lnta.data.sampling.SkipPairs`): one timed block of ``batches * repeats`` batches
    (:mod:`lnta.benchmark.timing`), after the workers have started and filled their prefetch queues;
    fewer when one epoch holds fewer batches."""
    loader = DataLoader(TrainClips(store, clip_len, [SkipPairs(tuple(skips))] if skips else ()), batch_size=batch_size, shuffle=True, drop_last=True,
                        num_workers=num_workers, persistent_workers=num_workers > 0,
                        generator=torch.Generator().manual_seed(seed))
    warm = max(2, 2 * num_workers)
    available = len(loader) - warm
    calls = min(batches * repeats, available - timer_warmup(available))
    if calls < 1:
        raise DataError(f"{len(loader)} training batches: too few to time the loader")
    iterator = iter(loader)
    for _ in range(warm):
        next(iterator)
    seconds = seconds_per_call(lambda: next(iterator), calls)
    del iterator
    return batch_size / seconds
