"""Frame-level labels: concatenated 0/1 arrays split per video, with length checks."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lnta.errors import DataError


def find_label_file(root: Path) -> Path | None:
    """The frame-label file of a frames-layout dataset: ``frame_labels*.npy`` in ``root``."""
    candidates = sorted(Path(root).glob("frame_labels*.npy"))
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        raise DataError(f"{root}: several frame-label files ({names}); choose one with data.labels=FILE")
    return candidates[0] if candidates else None


def load_frame_labels(path: Path) -> np.ndarray:
    """A frame-label ``.npy`` of shape (1, N) or (N,) as a flat uint8 0/1 array."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: label file not found (expected a .npy of shape (1, N) or (N,))")
    try:
        labels = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable label file ({exc})") from None
    if labels.ndim == 2 and labels.shape[0] == 1:
        labels = labels[0]
    if labels.ndim != 1:
        raise DataError(f"{path}: labels have shape {labels.shape}, expected (1, N) or (N,)")
    if not np.isin(labels, (0, 1)).all():
        raise DataError(f"{path}: labels must be 0/1, found values {np.unique(labels)[:5].tolist()}")
    return labels.astype(np.uint8)


def split_labels(labels: np.ndarray, video_names: list[str], lengths: list[int],
                 source: str) -> dict[str, np.ndarray]:
    """Split concatenated labels into one array per video, checking the total frame count."""
    total = int(sum(lengths))
    if len(labels) != total:
        raise DataError(
            f"{source}: {len(labels)} frame labels but the {len(video_names)} test videos have "
            f"{total} frames; labels and frames are misaligned")
    bounds = np.cumsum([0, *lengths])
    return {name: labels[a:b] for name, a, b in zip(video_names, bounds[:-1], bounds[1:])}
