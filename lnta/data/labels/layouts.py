"""Where a dataset's videos and labels lie on disk, for each layout users arrive with.

- frames layout: ``training/frames/<video>/<n>.jpg``, ``testing/frames/...``, ``frame_labels*.npy``;
- UCSD release: ``[UCSDped2/]Train/Train001/001.tif``, ``Test/Test001/``, ``Test/UCSDped2.m``,
  ``Test/Test001_gt/*.bmp``;
- Avenue release: ``training_videos/01.avi``, ``testing_videos/``,
  ``ground_truth_demo/testing_label_mask/{N}_label.mat``;
- ShanghaiTech release: ``training/videos/01_001.avi``, ``testing/frames/01_0014/``,
  ``testing/test_frame_mask/01_0014.npy``;
and interval files ``<name>.mat`` (``gt``) beside any of them.

:func:`find_layout` returns the videos of each split and every label source found;
:meth:`Layout.test_labels` picks one (``label_source``) and checks it against the videos.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from lnta.data.labels import formats as fmt
from lnta.data.io.frames import frame_sort_key, list_videos
from lnta.io import is_macos_metadata
from lnta.data.labels.labels import find_label_file, load_frame_labels, split_labels
from lnta.data.io.video import VIDEO_SUFFIXES
from lnta.errors import DataError

LABEL_SOURCES = ("auto", "npy", "intervals", "masks")
_NUMBER = re.compile(r"\d+")

#: per-video labels from (video names, frame counts), checked against them
LabelLoader = Callable[[list[str], list[int]], dict[str, np.ndarray]]


@dataclass
class LabelSource:
    kind: str     # "npy", "intervals" or "masks"
    path: Path
    load: LabelLoader


@dataclass
class Layout:
    kind: str
    root: Path
    train: list[tuple[str, Path]]
    test: list[tuple[str, Path]]
    labels: dict[str, LabelSource] = field(default_factory=dict)

    def label_source(self, choice: str = "auto") -> LabelSource:
        """The label source ``choice`` (auto: npy, then intervals, then masks)."""
        if choice not in LABEL_SOURCES:
            raise DataError(f"data.label_source={choice}: expected one of {', '.join(LABEL_SOURCES)}")
        order = ("npy", "intervals", "masks") if choice == "auto" else (choice,)
        for kind in order:
            if kind in self.labels:
                return self.labels[kind]
        found = ", ".join(f"{k} ({s.path})" for k, s in self.labels.items()) or "none"
        where = f"data.root={self.root}" if choice == "auto" else f"data.label_source={choice}"
        raise DataError(f"{where}: no {'' if choice == 'auto' else choice + ' '}test labels under {self.root} "
                        f"(found: {found}); set data.labels=FILE (.npy, .mat or .m)")


def video_key(name: str) -> str:
    """Match a video with its label file: ``Test001_gt`` ~ ``Test001``, ``1_label`` ~ ``01``."""
    name = re.sub(r"(_gt|_label)$", "", Path(name).stem if "." in name else name)
    return _NUMBER.sub(lambda m: str(int(m.group())), name)


def check_lengths(labels: dict[str, np.ndarray], names: list[str], lengths: list[int],
                  source: str) -> dict[str, np.ndarray]:
    """Labels keyed by :func:`video_key`, checked: one per video, as long as the video."""
    missing = [n for n in names if video_key(n) not in labels]
    extra = sorted(set(labels) - {video_key(n) for n in names})
    if missing or extra:
        detail = f"no labels for video {missing[0]}" if missing else f"no test video for labels {extra[0]}"
        raise DataError(f"{source}: labels for {len(labels)} videos but the test split has {len(names)} "
                        f"videos; {detail}")
    out = {}
    for name, length in zip(names, lengths):
        label = labels[video_key(name)]
        if len(label) != length:
            raise DataError(f"{source}: video {name} has {length} frames but its labels have {len(label)}")
        out[name] = label
    return out


def _npy_source(path: Path) -> LabelSource:
    return LabelSource("npy", path, lambda names, lengths: split_labels(
        load_frame_labels(path), names, lengths, str(path)))


def _interval_source(path: Path) -> LabelSource:
    def load(names, lengths):
        intervals = fmt.load_ucsd_m(path) if path.suffix == ".m" else fmt.load_interval_mat(path)
        if len(intervals) != len(names):
            raise DataError(f"{path}: intervals for {len(intervals)} videos but the test split has "
                            f"{len(names)} videos")
        return {n: fmt.intervals_to_labels(iv, length, f"{path} (video {n})")
                for n, iv, length in zip(names, intervals, lengths)}
    return LabelSource("intervals", path, load)


def _keyed_source(path: Path, per_video: Callable[[], dict[str, np.ndarray]]) -> LabelSource:
    return LabelSource("masks", path, lambda names, lengths: check_lengths(
        {video_key(k): v for k, v in per_video().items()}, names, lengths, str(path)))


def _files(folder: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern`` in numeric order, macOS metadata (``._*``, ``__MACOSX``) ignored."""
    return sorted((p for p in folder.glob(pattern) if not is_macos_metadata(p.name)), key=frame_sort_key)


def _mask_source(root: Path, test_dir: Path) -> LabelSource | None:
    avenue = root / "ground_truth_demo" / "testing_label_mask"
    if avenue.is_dir():
        files = _files(avenue, "*_label.mat")
        return _keyed_source(avenue, lambda: {f.stem: fmt.load_vollabel(f) for f in files})
    shanghai = root / "testing" / "test_frame_mask"
    if shanghai.is_dir():
        files = _files(shanghai, "*.npy")
        return _keyed_source(shanghai, lambda: {f.stem: load_frame_labels(f) for f in files})
    npz = root / fmt.PIXEL_MASK_FILE
    if npz.is_file():
        return _keyed_source(npz, lambda: fmt.load_mask_npz(npz))
    ucsd = [p for p in _files(test_dir, "*_gt") if p.is_dir()]
    if ucsd:
        return _keyed_source(test_dir, lambda: {p.name: fmt.load_mask_folder(p) for p in ucsd})
    return None


def label_file_source(path: Path) -> LabelSource:
    """An explicit ``data.labels`` file, by suffix: ``.npy`` frame labels, ``.mat``/``.m`` intervals."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"data.labels={path}: file not found")
    if path.suffix == ".npy":
        return _npy_source(path)
    if path.suffix in (".mat", ".m"):
        return _interval_source(path)
    raise DataError(f"data.labels={path}: expected a .npy, .mat (gt intervals) or .m (UCSD) file")


def _find_labels(root: Path, test_dir: Path, name: str) -> dict[str, LabelSource]:
    sources: dict[str, LabelSource] = {}
    npy = sorted(root.glob("frame_labels*.npy"))
    if len(npy) == 1:
        sources["npy"] = _npy_source(npy[0])
    elif npy:  # ambiguous: find_label_file raises its error once npy labels are asked for
        sources["npy"] = LabelSource("npy", root, lambda names, lengths: find_label_file(root))
    candidates = (root / f"{name}.mat", *_files(test_dir, "*.m"), *_files(root, "*.m"))
    intervals = [p for p in candidates if p.is_file()]
    if intervals:
        sources["intervals"] = _interval_source(intervals[0])
    masks = _mask_source(root, test_dir)
    if masks:
        sources["masks"] = masks
    return sources


def _videos(split_dir: Path) -> list[tuple[str, Path]]:
    """Video files of a folder, or else its frame folders (mask folders ``*_gt`` excluded)."""
    if not split_dir.is_dir():
        raise DataError(f"{split_dir}: folder not found")
    files = [p for p in _files(split_dir, "*") if p.suffix.lower() in VIDEO_SUFFIXES]
    if files:
        return [(p.stem, p) for p in files]
    return [(p.name, p) for p in list_videos(split_dir) if not p.name.endswith("_gt")]


def _ucsd_dir(root: Path) -> Path | None:
    for candidate in (root, *sorted(root.glob("UCSDped*"))):
        if (candidate / "Train").is_dir() and (candidate / "Test").is_dir():
            return candidate
    return None


def find_layout(root: Path, name: str = "", key: str = "data.root") -> Layout:
    """Recognise the layout under ``root``; ``name`` (e.g. ``ped2``) finds ``<name>.mat`` intervals.

    ``key`` is the setting that named ``root``, for the error messages.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{key}={root}: folder not found")
    ucsd = _ucsd_dir(root)
    if ucsd is not None:
        kind, train, test = "ucsd", ucsd / "Train", ucsd / "Test"
    elif (root / "training_videos").is_dir():
        kind, train, test = "avenue", root / "training_videos", root / "testing_videos"
    elif (root / "training" / "videos").is_dir() and not (root / "training" / "frames").is_dir():
        kind, train, test = "shanghaitech", root / "training" / "videos", root / "testing" / "frames"
    elif (root / "training" / "frames").is_dir():
        kind, train, test = "frames", root / "training" / "frames", root / "testing" / "frames"
    else:
        raise DataError(f"{key}={root}: no known layout (expected training/frames + testing/frames, "
                        "UCSDped2/Train + Test, training_videos + testing_videos, or training/videos)")
    labels = _find_labels(root, test, name)
    if ucsd is not None and ucsd != root:
        labels = {**_find_labels(ucsd, test, name), **labels}
    return Layout(kind, root, _videos(train), _videos(test), labels)
