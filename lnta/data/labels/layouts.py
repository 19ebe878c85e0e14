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

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from lnta.data.labels import formats as fmt
from lnta.data.labels.known import KNOWN
from lnta.data.io.frames import frame_sort_key, list_videos
from lnta.io import is_macos_metadata
from lnta.data.labels.labels import find_label_file, load_frame_labels, split_labels
from lnta.data.io.video import VIDEO_SUFFIXES
from lnta.errors import DataError

log = logging.getLogger(__name__)

LABEL_SOURCES = ("auto", "npy", "intervals", "masks")
_NUMBER = re.compile(r"\d+")

#: per-video labels from (video names, frame counts), checked against them
LabelLoader = Callable[[list[str], list[int]], dict[str, np.ndarray]]


@dataclass
class LabelSource:
    kind: str     # "npy", "intervals" or "masks"
    path: Path
    load: LabelLoader
    #: per-video label names without a video in the split, set by the last ``load`` (matched by name)
    ignored: list[str] = field(default_factory=list)
    #: how the last ``load`` matched labels to videos (concatenated sources: the order assumed)
    order: str = "by video name"
    #: a warning about that order, set by the last ``load`` ("" if none)
    order_warning: str = ""


@dataclass
class Layout:
    kind: str
    root: Path
    train: list[tuple[str, Path]]
    test: list[tuple[str, Path]]   # empty when the layout has no test folder (training only)
    labels: dict[str, LabelSource] = field(default_factory=dict)
    test_dir: Path | None = None

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
                  source: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """Per-video labels keyed by :func:`video_key` matched to the videos by name, each as long as its video.

    Returns the labels by video name and the label keys that match no video (a partial dataset
    beside the full label folder): those are ignored (the data module warns once and records them).
    A video without labels is an error.
    """
    keys = {video_key(n) for n in names}
    missing = [n for n in names if video_key(n) not in labels]
    if missing:
        raise DataError(f"{source}: no labels for test video {missing[0]} ({len(missing)} of {len(names)} "
                        "videos have none); every test video needs its label file")
    ignored = sorted((k for k in labels if k not in keys), key=lambda k: frame_sort_key(Path(k)))
    out = {}
    for name, length in zip(names, lengths):
        label = labels[video_key(name)]
        if len(label) != length:
            raise DataError(f"{source}: video {name} has {length} frames but its labels have {len(label)}")
        out[name] = label
    return out, ignored


def _shown(names: list[str], limit: int = 4) -> str:
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def _position_order(source: LabelSource, names: list[str], what: str) -> None:
    """Record on ``source`` that its labels follow the videos by position, in ``names``' order (numeric
    name order: ``2`` before ``10``), and warn where the videos' text order differs: a file made in text
    order has the same length, so no count check can tell the two apart."""
    source.order = f"{what} in numeric name order ({_shown(names)})"
    text = sorted(names)
    source.order_warning = "" if text == names else (
        f"{source.path}: {what} in the test videos' numeric name order ({_shown(names)}); their text order "
        f"({_shown(text)}) differs, and labels made in text order would pass every check here with wrong "
        "numbers. Check how the file was made, or use per-video labels (data.labels=FOLDER)")


def published_indices(dataset: str, names: list[str], lengths: list[int], source: str) -> list[int] | None:
    """The positions of the test videos ``names`` in ``dataset``'s published test split (Avenue, ShanghaiTech),
    matched by :func:`video_key` (``1`` ~ ``01``); None when the dataset's names are not known, the split is
    complete, or a name identifies no published video. A named video with another frame count than published
    is an error: labels of the published video cannot be its labels."""
    known = KNOWN.get(dataset, {}).get("test", {})
    if "names" not in known or len(names) == len(known["names"]):
        return None
    index = {video_key(n): i for i, n in enumerate(known["names"])}
    if any(video_key(n) not in index for n in names):
        return None
    positions = [index[video_key(n)] for n in names]
    for name, length, i in zip(names, lengths, positions):
        if length != known["lengths"][i]:
            raise DataError(f"{source}: holds the full {dataset} test split, but test video {name} has {length} "
                            f"frames and the published {known['names'][i]} has {known['lengths'][i]}; its "
                            "labels cannot be sliced out (use per-video labels: data.labels=FOLDER)")
    return positions


def published_slices(dataset: str, names: list[str], lengths: list[int], total: int,
                     source: str) -> list[tuple[int, int]] | None:
    """Where each of the test videos ``names`` lies in a label file of ``total`` frames that holds the whole
    published test split of ``dataset``, concatenated in the published order (:func:`published_indices`);
    None when ``total`` is not that split's frame count or the names do not identify the videos."""
    known = KNOWN.get(dataset, {}).get("test", {})
    if "lengths" not in known or total != sum(known["lengths"]):
        return None
    positions = published_indices(dataset, names, lengths, source)
    if positions is None:
        return None
    starts = np.cumsum([0, *known["lengths"]])
    return [(int(starts[i]), int(starts[i + 1])) for i in positions]


def _npy_source(path: Path, per_video: LabelSource | None = None, dataset: str = "") -> LabelSource:
    """Concatenated frame labels, split over the videos in their numeric name order. Where the dataset
    also has per-video labels (``per_video``) and the videos' text order differs, the split is checked
    against them: labels concatenated in text order are refused. A file of the whole published test split
    of ``dataset`` (e.g. Avenue's 15324 frames) beside part of it is sliced to the videos present, which
    their names identify (:func:`published_slices`)."""
    source = LabelSource("npy", path, lambda names, lengths: {})

    def load(names, lengths):
        flat = load_frame_labels(path)
        slices = published_slices(dataset, list(names), list(lengths), len(flat), str(path)) \
            if len(flat) != sum(lengths) else None
        if slices is not None:
            known = KNOWN[dataset]["test"]
            source.order = (f"sliced by video name from the full {dataset} test split ({len(known['names'])} "
                            f"videos, {len(flat)} frames) to the {len(names)} present ({_shown(list(names))})")
            source.order_warning = ""
            log.info("%s: labels of the full %s test split (%d videos, %d frames); sliced to the %d test videos "
                     "present, identified by their names (%s)", path, dataset, len(known["names"]), len(flat),
                     len(names), _shown(list(names)))
            return {n: flat[a:b] for n, (a, b) in zip(names, slices)}
        labels = split_labels(flat, names, lengths, str(path))
        _position_order(source, list(names), "labels concatenated")
        if not source.order_warning or per_video is None:
            return labels
        try:
            reference = per_video.load(names, lengths)
        except DataError:
            return labels  # per-video labels that do not fit these videos decide nothing
        text = sorted(names)
        by_text = split_labels(flat, text, [lengths[names.index(n)] for n in text], str(path))
        if all(np.array_equal(labels[n], reference[n]) for n in names):
            source.order += f", as the per-video labels in {per_video.path} confirm"
            source.order_warning = ""
        elif all(np.array_equal(by_text[n], reference[n]) for n in names):
            raise DataError(f"{path}: the labels are concatenated in the test videos' text order "
                            f"({_shown(text)}), not in their numeric order ({_shown(list(names))}), as the "
                            f"per-video labels in {per_video.path} show; write them in numeric order or use "
                            f"data.labels={per_video.path}")
        return labels

    source.load = load
    return source


def _interval_source(path: Path, dataset: str = "") -> LabelSource:
    """Intervals per test video, matched by position; those of the whole published test split of ``dataset``
    (``avenue.mat``: 21 videos) beside part of it are picked by the videos' names (:func:`published_indices`)."""
    def load(names, lengths):
        intervals = fmt.load_ucsd_m(path) if path.suffix == ".m" else fmt.load_interval_mat(path)
        known = KNOWN.get(dataset, {}).get("test", {})
        positions = published_indices(dataset, list(names), list(lengths), str(path)) \
            if len(intervals) != len(names) and len(intervals) == len(known.get("names", ())) else None
        if positions is not None:
            source.order = (f"picked by video name from the full {dataset} test split ({len(intervals)} videos): "
                            f"the {len(names)} present ({_shown(list(names))})")
            log.info("%s: intervals of the full %s test split (%d videos); picked for the %d test videos present, "
                     "identified by their names (%s)", path, dataset, len(intervals), len(names), _shown(list(names)))
            return {n: fmt.intervals_to_labels(intervals[i], length, f"{path} (video {n})")
                    for n, i, length in zip(names, positions, lengths)}
        if len(intervals) != len(names):
            raise DataError(f"{path}: intervals for {len(intervals)} videos but the test split has "
                            f"{len(names)} videos (intervals match videos by position; for part of a "
                            "dataset use per-video labels: data.label_source=masks or data.labels=FOLDER)")
        _position_order(source, list(names), "intervals matched to videos")
        return {n: fmt.intervals_to_labels(iv, length, f"{path} (video {n})")
                for n, iv, length in zip(names, intervals, lengths)}
    source = LabelSource("intervals", path, load)
    return source


def _keyed_source(path: Path, per_video: Callable[[], dict[str, np.ndarray]]) -> LabelSource:
    """Per-video labels (one file or folder per video), matched to the test videos by name."""
    source = LabelSource("masks", path, lambda names, lengths: {})

    def load(names, lengths):
        labels, source.ignored = check_lengths({video_key(k): v for k, v in per_video().items()},
                                               names, lengths, str(path))
        return labels

    source.load = load
    return source


def _files(folder: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern`` in numeric order, macOS metadata (``._*``, ``__MACOSX``) ignored."""
    return sorted((p for p in folder.glob(pattern) if not is_macos_metadata(p.name)), key=frame_sort_key)


def _per_video_folder(folder: Path) -> LabelSource | None:
    """A folder of per-video label files: Avenue ``{N}_label.mat`` (``volLabel``), ShanghaiTech
    ``<video>.npy`` frame masks, or UCSD ``<video>_gt/`` mask images; None when it holds none."""
    mats = _files(folder, "*_label.mat")
    if mats:
        return _keyed_source(folder, lambda: {f.stem: fmt.load_vollabel(f) for f in mats})
    npys = _files(folder, "*.npy")
    if npys:
        return _keyed_source(folder, lambda: {f.stem: load_frame_labels(f) for f in npys})
    gts = [p for p in _files(folder, "*_gt") if p.is_dir()]
    if gts:
        return _keyed_source(folder, lambda: {p.name: fmt.load_mask_folder(p) for p in gts})
    return None


def _mask_source(root: Path, test_dir: Path) -> LabelSource | None:
    for folder in (root / "ground_truth_demo" / "testing_label_mask", root / "testing" / "test_frame_mask"):
        if folder.is_dir():
            return _per_video_folder(folder)
    npz = root / fmt.PIXEL_MASK_FILE
    if npz.is_file():
        return _keyed_source(npz, lambda: fmt.load_mask_npz(npz))
    if test_dir.is_dir():
        ucsd = [p for p in _files(test_dir, "*_gt") if p.is_dir()]
        if ucsd:
            return _keyed_source(test_dir, lambda: {p.name: fmt.load_mask_folder(p) for p in ucsd})
    return None


def label_file_source(path: Path, dataset: str = "") -> LabelSource:
    """An explicit ``data.labels``: a ``.npy`` of concatenated frame labels (the whole published test split of
    ``dataset`` is sliced to the videos present, see :func:`published_slices`), a ``.mat`` of ``gt``
    intervals or of one video's ``volLabel`` masks (``{N}_label.mat``), a UCSD ``.m`` list, or a
    folder of per-video label files (matched to the videos by name)."""
    path = Path(path).expanduser()
    expected = ("a .npy (concatenated frame labels), .mat (gt intervals or one video's volLabel masks), "
                ".m (UCSD) file, or a folder of per-video label files")
    if path.is_dir():
        source = _per_video_folder(path)
        if source is None:
            raise DataError(f"data.labels={path}: no per-video label files in this folder (expected "
                            "{N}_label.mat, <video>.npy or <video>_gt/ mask folders)")
        return source
    if not path.is_file():
        raise DataError(f"data.labels={path}: file or folder not found (expected {expected})")
    if path.suffix == ".npy":
        return _npy_source(path, dataset=dataset)
    if path.suffix == ".mat" and "volLabel" in fmt.mat_variables(path):
        return _keyed_source(path, lambda: {path.stem: fmt.load_vollabel(path)})
    if path.suffix in (".mat", ".m"):
        return _interval_source(path, dataset)
    raise DataError(f"data.labels={path}: expected {expected}")


def _find_labels(root: Path, test_dir: Path, name: str) -> dict[str, LabelSource]:
    sources: dict[str, LabelSource] = {}
    npy = sorted(root.glob("frame_labels*.npy"))
    if len(npy) == 1:
        sources["npy"] = _npy_source(npy[0], dataset=name)
    elif npy:  # ambiguous: find_label_file raises its error once npy labels are asked for
        sources["npy"] = LabelSource("npy", root, lambda names, lengths: find_label_file(root))
    candidates = (root / f"{name}.mat", *_files(test_dir, "*.m"), *_files(root, "*.m"))
    intervals = [p for p in candidates if p.is_file()]
    if intervals:
        sources["intervals"] = _interval_source(intervals[0], name)
    masks = _mask_source(root, test_dir)
    if masks:
        sources["masks"] = masks
        if len(npy) == 1:
            sources["npy"] = _npy_source(npy[0], per_video=masks, dataset=name)
    return sources


def _videos(split_dir: Path) -> list[tuple[str, Path]]:
    """Video files of a folder, or else its frame folders (mask folders ``*_gt`` and macOS
    ``__MACOSX/`` excluded)."""
    if not split_dir.is_dir():
        raise DataError(f"{split_dir}: folder not found")
    files = [p for p in _files(split_dir, "*") if p.suffix.lower() in VIDEO_SUFFIXES]
    if files:
        return [(p.stem, p) for p in files]
    videos = [(p.name, p) for p in list_videos(split_dir) if not p.name.endswith("_gt")]
    if not videos:
        raise DataError(f"{split_dir}: no video folders found (expected <video>/<n>.jpg)")
    return videos


def _ucsd_dir(root: Path, name: str, key: str) -> Path | None:
    """``root`` or its ``UCSDped*`` folder with a ``Train`` folder; the one named after the dataset
    (``ped2`` -> ``UCSDped2``) when the release holds several."""
    if (root / "Train").is_dir():
        return root
    found = [p for p in sorted(root.glob("UCSDped*")) if (p / "Train").is_dir()]
    wanted = [p for p in found if p.name.lower() == f"ucsd{name.lower()}"]
    if wanted or not found:
        return wanted[0] if wanted else None
    if re.fullmatch(r"ped\d+", name.lower()):  # data=ped2 must not read Ped1
        raise DataError(f"{key}={root}: no UCSD{name} folder for data.name={name} (found "
                        f"{', '.join(p.name for p in found)})")
    return found[0]


def find_layout(root: Path, name: str = "", key: str = "data.root") -> Layout:
    """Recognise the layout under ``root``; ``name`` (e.g. ``ped2``) finds ``<name>.mat`` intervals.

    ``key`` is the setting that named ``root``, for the error messages.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{key}={root}: folder not found")
    ucsd = _ucsd_dir(root, name, key)
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
    return Layout(kind, root, _videos(train), _videos(test) if test.exists() else [], labels, test)
