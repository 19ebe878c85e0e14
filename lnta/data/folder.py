"""``data=folder``: train on your own normal footage, a folder of video files or frame folders.

``data.root`` holds the normal training videos; ``data.test_root`` (optional) the test videos, with labels
in any format :func:`~lnta.data.labels.layouts.label_file_source` reads (``data.labels``, or per-video label
files beside the test videos). Without test videos, training only calibrates and ``lnta.score`` scores
new footage. Frames are read, converted to grey and resized exactly as for the benchmarks
(:mod:`lnta.data.io`); ``python -m lnta.prepare data=folder data.root=DIR`` caches them the same way.

Two rules, each a pure function with hand-checked tests (``tests/unit/data/test_folder.py``):

- :func:`find_videos`: which entries of a folder are videos;
- :func:`holdout_positions`: which training videos are held out of training for the calibration after fit
  (``data.holdout``), so that the alarm threshold is set on normal footage the model has not seen.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

from lnta.data.datamodule import CalibrationClips, VideoDataModule
from lnta.data.io.frames import FRAME_SUFFIXES, frame_sort_key, list_frames
from lnta.data.io.video import VIDEO_SUFFIXES, probe_video
from lnta.data.labels.layouts import Layout, label_file_source
from lnta.errors import ConfigError, DataError
from lnta.io import is_macos_metadata

log = logging.getLogger(__name__)

#: files beside videos that are not videos and are not worth a warning (label files, lnta's own notes)
QUIET_SUFFIXES = (".npy", ".mat", ".m", ".json", ".txt", ".md", ".csv")
EXPECTED = (f"video files ({', '.join(VIDEO_SUFFIXES)}) or sub-folders of frame images "
            f"({', '.join(FRAME_SUFFIXES)})")


def _shown(names: list[str], limit: int = 4) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def find_videos(folder: Path, key: str = "data.root", exclude: tuple[Path, ...] = ()) -> list[tuple[str, Path]]:
    """The videos in ``folder`` as ``(name, path)`` pairs in numeric name order (``cam2`` before ``cam10``).

    A video is a file with a suffix of :data:`~lnta.data.io.video.VIDEO_SUFFIXES` (any case; named by its
    stem) or a sub-folder holding frame images (named by the folder). Not videos, and skipped: hidden entries
    (``.x``), macOS metadata (``._x``, ``__MACOSX``), mask folders ``*_gt``, the paths in ``exclude`` (the
    cache folder, a test folder inside the training folder); any other entry (a sub-folder without frames, a
    file of another type except label and text files) is skipped with one warning naming it. Files and
    folders are not searched deeper.

    Errors (:class:`DataError`, one line naming ``key`` and the folder): not a folder, an empty folder, no
    video among its entries, two videos of one name (``a.mp4`` and ``a.avi``).
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"{key}={folder}: folder not found (expected a folder of {EXPECTED})")
    excluded = {Path(p).expanduser().resolve() for p in exclude}
    entries = sorted((p for p in folder.iterdir() if not p.name.startswith(".") and not is_macos_metadata(p.name)
                      and p.resolve() not in excluded), key=frame_sort_key)
    if not entries:
        raise DataError(f"{key}={folder}: the folder is empty (expected {EXPECTED})")
    videos: dict[str, Path] = {}
    skipped: list[str] = []
    for path in entries:
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
            name = path.stem
        elif path.is_dir() and not path.name.endswith("_gt") and list_frames(path):
            name = path.name
        else:
            if not (path.is_dir() and path.name.endswith("_gt")) and path.suffix.lower() not in QUIET_SUFFIXES:
                skipped.append(path.name + ("/" if path.is_dir() else ""))
            continue
        if name in videos:
            raise DataError(f"{key}={folder}: two videos named {name} ({videos[name].name} and {path.name}); "
                            "rename one")
        videos[name] = path
    if not videos:
        raise DataError(f"{key}={folder}: no videos found among its {len(entries)} entries "
                        f"({_shown([p.name for p in entries])}); expected {EXPECTED}")
    if skipped:
        log.warning("%s=%s: %d entries are not videos and are skipped: %s", key, folder, len(skipped), _shown(skipped))
    return list(videos.items())


def frame_rates(videos: list[tuple[str, Path]], key: str = "data.root") -> dict[str, list[str]]:
    """The videos by frame rate (``"25 fps"``, rounded to 0.01; frame folders and files without a rate in their
    header are not counted), with one warning when there are several: no rate is converted, and a clip is
    ``clip_len`` consecutive frames, so its motion would differ between them (skip-frame's speeds too)."""
    by_rate: dict[str, list[str]] = {}
    for name, path in videos:
        if path.is_file():
            rate = probe_video(path)[1]
            if rate:
                by_rate.setdefault(f"{round(rate, 2):g} fps", []).append(name)
    if len(by_rate) > 1:
        log.warning("%s: the videos have %d frame rates (%s); lnta does not convert them and a clip is consecutive "
                    "frames, so its motion differs between them: convert them to one rate (ffmpeg -i IN -r RATE OUT) "
                    "and score footage of that rate", key, len(by_rate),
                    "; ".join(f"{rate}: {_shown(names)}" for rate, names in by_rate.items()))
    return by_rate


def check_holdout(holdout) -> None:
    """``data.holdout``: 0 (none), a whole number of videos (>= 1), or a fraction in (0, 1); else
    :class:`ConfigError`."""
    fraction = isinstance(holdout, float) and 0 < holdout < 1
    count = isinstance(holdout, int) and not isinstance(holdout, bool) and holdout >= 0
    if not (fraction or count):
        raise ConfigError(f"data.holdout={holdout}: expected 0 (calibrate on the training clips), a number of "
                          "training videos (1, 2, ...) or a fraction of them in (0, 1), e.g. 0.2")


def holdout_count(holdout, videos: int, key: str = "data.root") -> int:
    """How many of ``videos`` training videos ``data.holdout`` holds out: the number itself, or a fraction
    ``f`` of them rounded half up, at least 1 (``0.2`` of 10 -> 2, of 3 -> 1, ``0.25`` of 10 -> 3). At least one
    video must stay for training: :class:`DataError` otherwise (naming ``key``, the training folder)."""
    check_holdout(holdout)
    if holdout == 0:
        return 0
    count = holdout if isinstance(holdout, int) else max(1, math.floor(holdout * videos + 0.5 + 1e-9))
    if count >= videos:
        raise DataError(f"{key}: data.holdout={holdout} holds out {count} of its {videos} training video(s) for "
                        "the calibration, leaving none to train on; add videos (or split a long one into "
                        "several files), lower data.holdout, or set data.holdout=0 to calibrate on the training clips")
    return count


def holdout_positions(count: int, videos: int) -> list[int]:
    """The positions (0-based, in name order) of the ``count`` held-out videos among ``videos``: the middle
    of each of ``count`` equal parts, ``(2i + 1) * videos // (2 * count)``, so that they spread over the
    recording (10 videos, 2 held out -> 2 and 7; 5 videos, 1 -> 2; 4 videos, 2 -> 1 and 3)."""
    return [(2 * i + 1) * videos // (2 * count) for i in range(count)]


class FolderDataModule(VideoDataModule):
    """:class:`~lnta.data.datamodule.VideoDataModule` over your own videos (``conf/data/folder.yaml``).

    ``root``: the folder of normal training videos (:func:`find_videos`). ``holdout``: training videos held
    out of training for the calibration after fit (:func:`holdout_count`, :func:`holdout_positions`); the
    normal-PSNR statistics behind ``lnta.score``'s threshold are then computed on their clips (recorded as
    held out), and with ``holdout: 0`` on the training clips, as for the benchmarks. ``test_root``: a
    folder of test videos (optional); their labels are ``labels`` (a ``.npy`` of concatenated frame labels,
    ``.mat`` intervals or masks, UCSD ``.m``, or a folder of per-video label files) or per-video label files
    beside the test videos. Without ``test_root`` there is no test split: training skips the test after fit
    (no AUC). The other arguments are :class:`~lnta.data.datamodule.VideoDataModule`'s; the cache
    (``lnta.prepare``) holds the splits ``train``, ``holdout`` and ``test``.
    """

    def __init__(self, root: str, test_root: str | None = None, holdout: int | float = 0.2, **kwargs):
        check_holdout(holdout)
        super().__init__(root=root, **kwargs)
        self.test_root = Path(test_root).expanduser() if test_root else None
        self.holdout = holdout
        self._held_out: list[tuple[str, Path]] = []
        if self.test is True and self.test_root is None:
            raise ConfigError("data.test=true but data.test_root is not set: name the folder of test videos")
        if self.test_root is not None and self.test_root.resolve() == self.root.resolve():
            raise ConfigError(f"data.test_root={self.test_root} is data.root: the test videos would be the training "
                              "videos; put them in a folder of their own")

    def check_root(self) -> None:
        if not self.root.is_dir():
            raise DataError(f"data.root={self.root}: folder not found (expected a folder of {EXPECTED})")

    def layout(self) -> Layout:
        """The training videos less the held-out ones, the test videos, and the labels found beside them."""
        if self._layout is None:
            self.check_root()
            cache_root = self.cache.parent  # <cache_dir or root/lnta_cache>, whatever the image size
            videos = find_videos(self.root, "data.root", exclude=tuple(p for p in (cache_root, self.test_root) if p))
            rates = frame_rates(videos, f"data.root={self.root}")
            held = set(holdout_positions(holdout_count(self.holdout, len(videos), f"data.root={self.root}"),
                                         len(videos)))
            train = [v for i, v in enumerate(videos) if i not in held]
            self._held_out = [v for i, v in enumerate(videos) if i in held]
            test, labels = [], {}
            if self.test_root is not None:
                test = find_videos(self.test_root, "data.test_root", exclude=(cache_root,))
                try:  # per-video label files beside the test videos
                    labels = {"masks": label_file_source(self.test_root)}
                except DataError:
                    labels = {}
            held_names = [n for n, _ in self._held_out]
            log.info("%s: %d training videos under %s%s, %s", self.name, len(train), self.root,
                     f" at {next(iter(rates))}" if len(rates) == 1 else "",
                     f"{len(held_names)} held out for the calibration after fit (data.holdout={self.holdout}): "
                     f"{_shown(held_names)}" if held_names else "none held out (data.holdout=0: the calibration "
                     "after fit uses training clips)")
            self._layout = Layout("folder", self.root, train, test, labels, self.test_root)
        return self._layout

    def videos(self, split: str) -> list[tuple[str, Path]]:
        if split == "holdout":
            self.layout()
            return self._held_out
        if split == "test" and self.test_root is None:
            raise DataError("data.test_root is not set: data=folder has no test videos to test on; set "
                            "data.test_root=DIR (and data.labels=FILE unless per-video labels lie beside the videos)")
        return super().videos(split)

    def reads_test(self) -> bool:
        """Whether there is a test split to read: ``test_root`` is set (and ``data.test`` is not false)."""
        if self.test is False:
            return super().reads_test()
        return self.test_root is not None

    def check_test_early(self, use_cache: bool = True) -> None:
        if self.test_root is not None:  # without test videos, lnta.train says in one line that it skips the test
            super().check_test_early(use_cache)

    def load_test_labels(self, names, lengths):
        if self.labels_path is None and not self.layout().labels:
            raise DataError(f"data.test_root={self.test_root}: no test labels (no per-video label files "
                            "<video>.npy, {N}_label.mat or <video>_gt/ beside the videos); set data.labels=FILE "
                            "(.npy frame labels, .mat, .m) or FOLDER of per-video label files")
        return super().load_test_labels(names, lengths)

    def cached_splits(self) -> list[str]:
        splits = super().cached_splits()
        return splits[:1] + (["holdout"] if self.videos("holdout") else []) + splits[1:]

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        if stage in ("fit", None) and self.videos("holdout"):
            # decoded and checked before training, on every rank: a fault in the held-out videos stops the run
            # now, not after the fit, and the plan's estimate counts their clips without decoding mid-training
            self.store("holdout")

    def calibration_clips(self) -> CalibrationClips:
        """The held-out videos' clips (``data.holdout``), else the training clips."""
        held = self.videos("holdout")
        if not held:
            return super().calibration_clips()
        return CalibrationClips(self.store("holdout"), f"clips of {len(held)} held-out video(s) "
                                f"({_shown([n for n, _ in held])})", held_out=True)
