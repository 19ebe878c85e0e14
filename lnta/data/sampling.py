"""Clip index rules as pure functions: which frame indices make a clip (METHOD.md, "Data and clips"),
for training, testing and scoring a stream of frames."""
from __future__ import annotations

import logging
from collections import deque
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from lnta.errors import ConfigError

log = logging.getLogger(__name__)

#: The reference scores the 9th frame (index 8) of each 16-frame clip.
REFERENCE_CENTER = 8
#: The reference re-draws a too-short skip clip's start this many times before clamping.
SKIP_REDRAWS = 10
#: Edge rules of scoring: ``pad`` scores every frame (clips at the ends repeat the first/last frame);
#: ``drop`` is the reference (the first ``center`` and last ``clip_len - 1 - center`` frames get no
#: score: the frames of :func:`scored_frames`).
EDGES = ("pad", "drop")


def clip_starts(num_frames: int, clip_len: int) -> np.ndarray:
    """Every stride-1 start of a clip inside a video: ``num_frames - clip_len + 1`` of them."""
    return np.arange(max(0, num_frames - clip_len + 1))


def video_offsets(lengths: Sequence[int]) -> np.ndarray:
    """int64 (V,): the row of each video's first frame when the videos are concatenated in order."""
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)[:-1]]).astype(np.int64)


class ClipIndex:
    """The clip-index table: every stride-1 clip (:func:`clip_starts`) of videos concatenated in order.

    ``videos`` and ``starts`` are int64 (N,): each clip's video number and first frame within that
    video, ordered by video, then start; ``offsets`` int64 (V,) is :func:`video_offsets`, and
    ``rows`` int64 (N,) each clip's first row in the concatenated frames (``FrameStore.frames``).
    """

    def __init__(self, lengths: Sequence[int], clip_len: int):
        self.lengths, self.clip_len = [int(n) for n in lengths], int(clip_len)
        self.offsets = video_offsets(self.lengths)
        starts = [clip_starts(n, self.clip_len) for n in self.lengths]
        self.videos = np.repeat(np.arange(len(starts), dtype=np.int64), [len(s) for s in starts])
        self.starts = np.concatenate([np.zeros(0, np.int64), *starts]).astype(np.int64)

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def rows(self) -> np.ndarray:
        return self.offsets[self.videos] + self.starts

    def sample(self, max_clips: int, seed: int = 0) -> np.ndarray:
        """Positions (sorted) of up to ``max_clips`` clips drawn without replacement by ``seed``, all when fewer."""
        if len(self) <= max_clips:
            return np.arange(len(self))
        return np.sort(np.random.default_rng(seed).choice(len(self), max_clips, replace=False))


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


class SkipPairs:
    """The extra clips a skip-frame pseudo anomaly needs of every training item, by :func:`skip_clip_pair`:
    ``skip_index`` (frames n, n+s, ...), ``target_index`` (n..n+T-1) and ``skip`` (s, drawn from ``skips``).
    Given to the dataset by the anomaly type that owns it (:meth:`lnta.anomaly.skip.SkipFrame.clip_rule`).
    (A plain class, not a dataclass: Hydra would turn a dataclass passed to ``instantiate`` into a config.)"""

    def __init__(self, skips: Sequence[int]):
        self.skips = tuple(int(s) for s in skips)

    def __eq__(self, other) -> bool:
        return isinstance(other, SkipPairs) and other.skips == self.skips

    def __repr__(self) -> str:
        return f"SkipPairs({self.skips})"

    def clamped_share(self, lengths: Sequence[int], clip_len: int) -> float:
        """The share of skip clips that must be clamped to the last frame: clips (weighted by each video's
        clip count) of videos shorter than ``(clip_len - 1) * s + 1`` frames, averaged over the set's ``s``
        (each drawn equally often); a re-drawn start cannot help in such a video."""
        counts = np.array([max(n - clip_len + 1, 0) for n in lengths], np.float64)
        shares = [counts[np.array(lengths) < (clip_len - 1) * s + 1].sum() / counts.sum() for s in self.skips]
        return float(np.mean(shares))

    def check(self, lengths: Sequence[int], clip_len: int) -> None:
        """Refuse a skip set that no training video is long enough for (every skip clip clamped), and warn
        with the share of clamped clips when some are. Raises :class:`ConfigError`."""
        share = self.clamped_share(lengths, clip_len)
        need = {s: (clip_len - 1) * s + 1 for s in self.skips}
        if share >= 1.0:
            raise ConfigError(f"anomaly skips={list(self.skips)}: every skip clip would be clamped to its video's last "
                              f"frame (s needs {', '.join(f'{n} frames for s={s}' for s, n in need.items())}; the "
                              f"longest training video has {max(lengths)}); choose smaller skips")
        if share > 0:
            log.warning("anomaly skips=%s: %.0f%% of skip clips are clamped to their video's last frame (s needs %s)",
                        list(self.skips), 100 * share, ", ".join(f"{n} frames for s={s}" for s, n in need.items()))

    def __call__(self, start: int, clip_len: int, num_frames: int, randint: Callable[[int], int]) -> dict:
        skip_idx, target_idx, s = skip_clip_pair(start, self.skips, clip_len, num_frames, randint)
        return {"skip_index": skip_idx, "target_index": target_idx, "skip": s}


def scored_frames(num_frames: int, clip_len: int, center: int = REFERENCE_CENTER) -> np.ndarray:
    """Frames that receive a score without padding: ``center .. num_frames - clip_len + center``.

    With the reference 16/8 the first 8 and last 7 frames of each video are dropped.
    """
    return clip_starts(num_frames, clip_len) + center


def runs(flags) -> np.ndarray:
    """int64 (K, 2): ``[start, stop)`` positions of each run of consecutive nonzero entries of the
    1-D ``flags`` (0/1 labels, flagged frames), in order; (0, 2) when there is none."""
    edges = np.flatnonzero(np.diff(np.r_[0, np.asarray(flags).astype(bool).astype(np.int8), 0]))
    return edges.reshape(-1, 2).astype(np.int64)


def padded(frames: Iterable, before: int, after: int) -> Iterator:
    """``frames`` with the first repeated ``before`` times in front and the last ``after`` times behind."""
    last = None
    for last in frames:
        if before:
            yield from [last] * before
            before = 0
        yield last
    if last is not None:
        yield from [last] * after


def windows(frames: Iterable, clip_len: int) -> Iterator[list]:
    """Every stride-1 window of ``clip_len`` consecutive items (the clips of :func:`clip_starts`),
    holding only one window: the streaming form for frames whose count is not known ahead."""
    window: deque = deque(maxlen=clip_len)
    for frame in frames:
        window.append(frame)
        if len(window) == clip_len:
            yield list(window)


def scored_clips(frames: Iterable, clip_len: int, center: int, edges: str) -> Iterator[tuple[int, list]]:
    """``(frame_index, clip)`` for every scored frame of a frame stream; see :data:`EDGES` for the
    rule at the ends (``drop`` yields the frames of :func:`scored_frames`; ``pad`` every frame, its
    clip clamped to the first/last frame as :func:`normal_clip` clamps).
    Errors: :class:`ConfigError` for an unknown ``edges``."""
    if edges not in EDGES:
        raise ConfigError(f"edges={edges}: expected one of {', '.join(EDGES)}")
    if edges == "pad":
        return enumerate(windows(padded(frames, center, clip_len - 1 - center), clip_len))
    return enumerate(windows(frames, clip_len), start=center)
