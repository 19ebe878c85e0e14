"""Parsers for the label files of the real releases, each to plain per-video 0/1 arrays.

Intervals are 1-based and inclusive (``[61:180]`` marks frames 60..179 of a 0-based video);
masks give a frame label of 1 where any pixel of the frame's mask is set.
"""
from __future__ import annotations

import functools
import re
import zipfile
from pathlib import Path

import numpy as np
import scipy.io

from lnta.data.io.frames import list_frames, read_gray
from lnta.errors import DataError

_RANGE = re.compile(r"(\d+)\s*(?::\s*(\d+))?")
_UCSD_LINE = re.compile(r"gt_frame\s*=\s*\[([^\]]*)\]")


def intervals_to_labels(intervals: np.ndarray, length: int, source: str) -> np.ndarray:
    """A (2, K) array of 1-based inclusive [start; end] columns to ``length`` 0/1 labels."""
    labels = np.zeros(length, np.uint8)
    for start, end in np.asarray(intervals, dtype=np.int64).reshape(2, -1).T:
        if not 1 <= start <= end <= length:
            raise DataError(f"{source}: interval [{start}, {end}] outside the video's frames 1..{length}")
        labels[start - 1:end] = 1
    return labels


def _loadmat(path: Path) -> dict:
    try:
        return scipy.io.loadmat(str(path))
    except Exception as exc:  # noqa: BLE001 - scipy raises several types for bad files
        raise DataError(f"{path}: unreadable .mat file ({exc.__class__.__name__}: {exc})") from None


def mat_variables(path: Path) -> list[str]:
    """The variable names in a ``.mat`` file, read from its header without loading the data."""
    try:
        return [name for name, _, _ in scipy.io.whosmat(str(path))]
    except Exception as exc:  # noqa: BLE001 - scipy raises several types for bad files
        raise DataError(f"{path}: unreadable .mat file ({exc.__class__.__name__}: {exc})") from None


def _file_key(path: Path) -> tuple[str, int, int]:
    """A file's identity for the parse caches: its resolved path, size and modification time (a rewritten
    file is parsed again)."""
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(f"{path}: unreadable .mat file ({exc.strerror or exc})") from None
    return str(path), stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=256)
def _interval_mat(key: tuple[str, int, int]) -> tuple[np.ndarray, ...]:
    path = Path(key[0])
    data = _loadmat(path)
    if "gt" not in data:
        raise DataError(f"{path}: no 'gt' variable (expected a cell of 2xK 1-based [start; end] intervals)")
    return tuple(np.asarray(cell, dtype=np.int64).reshape(2, -1) for cell in np.ravel(data["gt"]))


def load_interval_mat(path: Path) -> list[np.ndarray]:
    """``ped2.mat`` / ``avenue.mat``: the ``gt`` cell, one (2, K) interval array per test video (parsed once
    per process and file version)."""
    return [a.copy() for a in _interval_mat(_file_key(path))]


def load_ucsd_m(path: Path) -> list[np.ndarray]:
    """The UCSD ``UCSDpedN.m`` list: ``TestVideoFile{end+1}.gt_frame = [61:180];`` per test video.

    A line may hold several ranges (``[1:10, 40:50]``) or single frames; returns (2, K) intervals.
    """
    videos = []
    for line in Path(path).read_text(errors="replace").splitlines():
        match = _UCSD_LINE.search(line)
        if match:
            pairs = [(int(a), int(b or a)) for a, b in _RANGE.findall(match.group(1))]
            videos.append(np.array(pairs, dtype=np.int64).reshape(-1, 2).T)
    if not videos:
        raise DataError(f"{path}: no 'TestVideoFile{{end+1}}.gt_frame = [a:b];' lines found")
    return videos


@functools.lru_cache(maxsize=256)
def _vollabel(key: tuple[str, int, int]) -> np.ndarray:
    path = Path(key[0])
    data = _loadmat(path)
    if "volLabel" not in data:
        raise DataError(f"{path}: no 'volLabel' variable (expected a 1xT cell of pixel masks)")
    return np.array([np.asarray(mask).any() for mask in np.ravel(data["volLabel"])], np.uint8)


def load_vollabel(path: Path) -> np.ndarray:
    """An Avenue ``{N}_label.mat``: ``volLabel`` (1xT cell of masks) to T frame labels. Parsed once per process
    and file version (the 21 Avenue files take ~20 s): every later call is a copy of that parse."""
    return _vollabel(_file_key(path)).copy()


def load_mask_folder(folder: Path) -> np.ndarray:
    """UCSD ``TestNNN_gt/*.bmp`` pixel masks to frame labels (macOS ``._*`` files ignored)."""
    files = list_frames(folder)
    if not files:
        raise DataError(f"{folder}: no mask images found")
    return np.array([read_gray(f).any() for f in files], np.uint8)


#: Ped2's pixel-level ground truth under the data root: one bool (T, H, W) array per test video.
PIXEL_MASK_FILE = "testing/pixel_gt_masks.npz"
#: Exact region maps of the test videos, where the data have them (the synthetic generator): one uint8
#: (T, H, W) array per video with these codes.
REGION_FILE = "testing/region_masks.npz"
BACKGROUND, FOREGROUND, ANOMALY = 0, 1, 2


def read_pixel_masks(path: Path, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """The bool (T, H, W) masks of a ``pixel_gt_masks.npz`` by video name: every video, or those of
    ``names`` that it holds (in that order). Errors: :class:`DataError` naming ``path`` when unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = data.files if names is None else [n for n in names if n in data.files]
            return {name: data[name].astype(bool) for name in keys}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: unreadable mask archive ({exc.__class__.__name__}: {exc})") from None


def load_mask_npz(path: Path) -> dict[str, np.ndarray]:
    """``pixel_gt_masks.npz``: one bool (T, H, W) array per video name to frame labels."""
    return {name: m.reshape(len(m), -1).any(1).astype(np.uint8) for name, m in read_pixel_masks(path).items()}
