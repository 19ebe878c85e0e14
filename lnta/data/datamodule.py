"""LightningDataModule over a video anomaly dataset: uint8 clip batches for training and test."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from lnta.data.io.cache import build_cache, cache_path, open_cache
from lnta.data.datasets import TestClips, TrainClips
from lnta.data.catalogue import download_hint
from lnta.data.labels.known import MASK_LABEL_NOTES, check_known
from lnta.data.labels.layouts import Layout, find_layout, label_file_source
from lnta.data.order import EpochShuffle
from lnta.data.ondevice import DEVICE_MEMORY_FRACTION, DeviceFrames, TrainIndices, fits_on
from lnta.data.sampling import REFERENCE_CENTER, ClipIndex, scored_frames
from lnta.data.io.store import FrameStore
from lnta.data.io.frames import check_frame_sizes
from lnta.data.io.video import open_video
from lnta.errors import ConfigError, DataError
from lnta.text import counted

log = logging.getLogger(__name__)

#: What each label source's frame labels are, for the log and ``metrics.json`` (``labels_from``).
LABELS_FROM = {"npy": "frame labels as given", "intervals": "frame intervals",
               "masks": "derived from pixel masks: a frame is anomalous where any mask pixel is set"}


@dataclass(frozen=True)
class TestSplit:
    """What the evaluation of a test pass needs to know of the test split, as one value
    (:meth:`VideoDataModule.test_split`): the dataset's name, the test videos' names and frame counts in
    the order of their indices, the clip length and scored frame, and where the labels came from."""

    dataset: str
    names: list[str]
    lengths: list[int]
    clip_len: int
    center: int
    label_info: dict = field(default_factory=dict)

    @property
    def scored_frames(self) -> int:
        """How many frames the reference protocol scores (no padding: ``length - clip_len + 1`` per video)."""
        return sum(len(scored_frames(n, self.clip_len, self.center)) for n in self.lengths)


@dataclass(frozen=True)
class CalibrationClips:
    """The normal frames the calibration statistics are computed on after fit, as one value
    (:meth:`VideoDataModule.calibration_clips`): their ``store``, what they are (``what``, for the log and
    the statistics' ``source``) and whether they were ``held_out`` from training."""

    store: FrameStore
    what: str
    held_out: bool = False

    def count(self, clip_len: int, max_clips: int) -> int:
        """How many clips the calibration samples: ``max_clips``, at most all ``clip_len``-frame clips of the store."""
        return min(int(max_clips), len(ClipIndex(self.store.lengths, clip_len)))


class VideoDataModule(pl.LightningDataModule):
    """A video anomaly dataset in any layout :func:`~lnta.data.labels.layouts.find_layout` knows (the
    frames layout, the UCSD, Avenue and ShanghaiTech releases): uint8 clip batches for training and test.

    Frames are read from the prepared cache (``python -m lnta.prepare``) when it exists, memory-mapped;
    otherwise decoded once per split into memory (grayscale, resized to ``image_size``). Batches are
    normalised on the training device. Test labels: ``labels`` (a ``.npy``, ``.mat`` or ``.m`` file) or
    what the layout holds, chosen by ``label_source`` (auto, npy, intervals, masks) and checked against
    every test video's frame count. ``clip_rules``: what the pseudo anomalies need of every training item
    beyond its normal clip (:meth:`lnta.anomaly.base.PseudoAnomaly.clip_rule`; skip-frame: its clip pair).
    ``on_device`` keeps the training frames on the training device and gathers clips there
    (:mod:`lnta.data.ondevice`); it falls back to host loading when they take more than
    ``device_memory_fraction`` of a GPU's free memory.
    ``eval_batch_scale`` multiplies ``eval_batch_size`` (set by the command from the precision knob).
    ``shuffle_seed`` orders the training clips (:class:`~lnta.data.order.EpochShuffle`; the commands pass the run seed).
    ``test``: whether training reads the test split (its checks before fit, the cache): ``true``,
    ``false`` (training only, normal footage without labels), or ``auto`` (when the layout has one, or
    when ``test_required``: a test follows training; ``lnta.train`` passes ``test_after_fit``).
    ``center``: the scored frame of each test clip, 0-based (the reference's 9th frame); the data module is
    its one owner, everyone else receives it as a value (:meth:`test_split`).
    """

    def __init__(self, root: str, name: str = "frames", image_size: int = 256, clip_len: int = 16,
                 batch_size: int = 4, eval_batch_size: int = 16, num_workers: int = 0,
                 labels: str | None = None, clip_rules: Sequence[Callable] = (),
                 label_source: str = "auto", cache_dir: str | None = None, backend: str = "auto",
                 center: int = REFERENCE_CENTER, persistent_workers: bool = True, on_device: bool = False,
                 device_memory_fraction: float = DEVICE_MEMORY_FRACTION, eval_batch_scale: int = 1,
                 shuffle_seed: int = 0, test: bool | str = "auto", test_required: bool = True):
        super().__init__()
        self.root = Path(root).expanduser()
        self.name, self.image_size, self.clip_len = name, image_size, clip_len
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.labels_path = Path(labels).expanduser() if labels else None
        self.clip_rules = list(clip_rules)
        self.label_source, self.cache_dir, self.backend = label_source, cache_dir, backend
        self.center, self.persistent_workers = center, persistent_workers
        if test not in (True, False, "auto"):
            raise ConfigError(f"data.test={test}: expected true, false or auto")
        self.test = test
        self.test_required = bool(test_required)
        self.on_device, self.device_memory_fraction = on_device, device_memory_fraction
        self.eval_batch_scale, self.shuffle_seed = int(eval_batch_scale), int(shuffle_seed)
        self.device_frames: DeviceFrames | None = None
        self._stores: dict[str, FrameStore] = {}
        self._layout: Layout | None = None
        self.test_labels: dict[str, np.ndarray] | None = None
        self.label_info: dict[str, str] = {}
        self._checked_test: tuple[list[str], list[int]] | None = None

    def prepare_data(self) -> None:
        # the commands call this first, before a trainer is built: a missing data.root, an empty folder or one
        # without videos is the first line printed (finding the layout lists files; nothing is decoded)
        self.layout()

    def check_root(self) -> None:
        if not self.root.is_dir():
            raise DataError(f"data.root={self.root}: folder not found{download_hint(self.name, self.root)}")

    def layout(self) -> Layout:
        if self._layout is None:
            self.check_root()
            self._layout = find_layout(self.root, self.name)
        return self._layout

    def videos(self, split: str) -> list[tuple[str, Path]]:
        if split == "train":
            return self.layout().train
        if not self.layout().test:
            raise DataError(f"data.root={self.root}: no test split ({self.layout().test_dir} not found); "
                            "to train without one set test_after_fit=false (or data.test=false)")
        return self.layout().test

    def reads_test(self) -> bool:
        """Whether training (and ``lnta.prepare``) read the test split; see ``test``."""
        if self.test is False:
            if self.test_required:
                raise ConfigError("data.test=false but test_after_fit=true: a test needs the test split; "
                                  "set test_after_fit=false to train without one")
            return False
        return self.test is True or self.test_required or bool(self.layout().test)

    @property
    def cache(self) -> Path:
        return cache_path(self.root, self.image_size, self.cache_dir)

    def store(self, split: str) -> FrameStore:
        """The frames of ``split`` ('train' or 'test'): the cache, or decoded on first use."""
        if split not in self._stores:
            videos = self.videos(split)
            store = open_cache(self.cache, split, self.image_size, videos)
            if store is None:
                log.info("%s %s: decoding %s (lnta.prepare caches them for later runs)", self.name, split,
                         counted(len(videos), "video"))
                store = FrameStore.decode(videos, self.image_size, self.backend)
                how = "decoded into memory"
            else:
                how = f"memory-mapped from the prepared cache {self.cache}"
            self.verify(split, store)
            log.info("%s %s: %s, %d frames at %s, %s", self.name, split, counted(len(store.names), "video"),
                     sum(store.lengths), store.image_size, how)
            self._stores[split] = store
        return self._stores[split]

    def verify(self, split: str, store: FrameStore) -> None:
        """Clip length, published counts (where recognised) and, for test, labels against frames."""
        self.check_counts(split, store.names, store.lengths)

    def check_counts(self, split: str, names: list[str], lengths: list[int]) -> None:
        """The checks on a split's frame counts: every video at least a clip long, the published
        counts (where recognised) and, for test, the labels (stored in :attr:`test_labels`)."""
        short = [(n, length) for n, length in zip(names, lengths) if length < self.clip_len]
        if short:
            raise DataError(f"{self.root}: {split} video {short[0][0]} has {short[0][1]} frames, fewer than "
                            f"a clip (data.clip_len={self.clip_len}); {len(short)} such videos: "
                            f"{[n for n, _ in short]}")
        if split == "test" and self._checked_test == (list(names), list(lengths)):
            return  # checked before training, read again from the store: once per command (warnings, .mat files)
        check_known(self.name, split, names, lengths, str(self.root))
        if split == "test":
            self.test_labels = self.load_test_labels(names, lengths)
            self._checked_test = (list(names), list(lengths))

    def load_test_labels(self, names: list[str], lengths: list[int]) -> dict[str, np.ndarray]:
        """Per-video test labels from the chosen source, checked against ``lengths``."""
        if self.labels_path is not None:
            source = label_file_source(self.labels_path, self.name)
            if self.label_source not in ("auto", source.kind):
                raise DataError(f"data.labels={self.labels_path} holds {source.kind} labels but "
                                f"data.label_source={self.label_source}")
        else:
            source = self.layout().label_source(self.label_source)
        labels = source.load(names, lengths)
        if source.ignored and self.label_info.get("labels_ignored") != source.ignored:  # once, not per check
            log.warning("%s: labels of %d videos that are not in the test split ignored (%s); recorded as "
                        "labels_ignored in metrics.json", source.path, len(source.ignored), ", ".join(source.ignored))
        if source.order_warning and self.label_info.get("labels_order") != source.order:  # once
            log.warning(source.order_warning)
        self.label_info = {"label_source": source.kind, "labels_from": LABELS_FROM[source.kind],
                           "labels_file": str(source.path), "labels_ignored": list(source.ignored),
                           "labels_order": source.order}
        log.info("%s test labels: %s (%s) from %s, %s", self.name, source.kind, LABELS_FROM[source.kind], source.path,
                 source.order)
        note = MASK_LABEL_NOTES.get(self.name)
        if source.kind == "masks" and note and self.labels_path is None and self.label_source == "auto":
            log.warning("%s: no frame-label file or intervals found, so the test labels are derived from the "
                        "pixel masks in %s; %s", self.name, source.path, note)
        return labels

    def check_test_early(self, use_cache: bool = True) -> None:
        """Every check of the test split before training, without decoding: frame counts (from the
        cache, or the files), clip length, published counts, labels, and each frame file's size
        (from the image headers). Nothing when training does not read the test split."""
        if not self.reads_test():
            log.info("%s: training only, the test split is not read (data.test=%s, test_after_fit=false)",
                     self.name, self.test)
            return
        videos = self.videos("test")
        store = self._stores.get("test") or (open_cache(self.cache, "test", self.image_size, videos)
                                             if use_cache else None)
        if store is not None:
            self.check_counts("test", store.names, store.lengths)
            return
        for _, path in videos:
            if path.is_dir():
                check_frame_sizes(path)
        self.check_counts("test", [n for n, _ in videos], [len(open_video(p, self.backend)) for _, p in videos])

    def cached_splits(self) -> list[str]:
        """The splits :meth:`prepare_cache` decodes: ``train``, and ``test`` when it is read (``test``)."""
        return ["train", "test"] if self.reads_test() else ["train"]

    def calibration_clips(self) -> CalibrationClips:
        """The normal clips the calibration after fit samples (``lnta.train``'s ``calibrate_after_fit``): here
        the training clips themselves (:class:`~lnta.data.folder.FolderDataModule` can hold videos out)."""
        return CalibrationClips(self.store("train"), "training clips", held_out=False)

    def prepare_cache(self) -> Path:
        """Decode the splits into the cache at :attr:`cache`, verified; replaces an older cache.

        The test split (when read, see ``test``) is checked first, from frame counts and labels, so a
        label mismatch stops before anything is decoded."""
        splits = self.cached_splits()
        if "test" in splits:
            self.check_test_early(use_cache=False)
        return build_cache(self.cache, {split: self.videos(split) for split in splits}, self.image_size,
                           self.backend, verify=self.verify)

    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", None):
            self.check_test_early()  # first: a test-split fault must not wait for the training frames
            self.device_frames = self._device_frames() if self.on_device else None
            dataset = TrainIndices if self.device_frames else TrainClips
            for rule in self.clip_rules:  # a rule that no training video can serve is refused here
                if hasattr(rule, "check"):
                    rule.check(self.store("train").lengths, self.clip_len)
            self.train_set = dataset(self.store("train"), self.clip_len, self.clip_rules)
            self.train_order = EpochShuffle(len(self.train_set), self.shuffle_seed)
        if stage in ("test", None):
            store = self.store("test")
            self.test_set = TestClips(store, self.clip_len, self.center, [self.test_labels[n] for n in store.names])

    def test_split(self) -> TestSplit:
        """The test split's facts (:class:`TestSplit`), after ``setup("test")``."""
        store = self.store("test")
        return TestSplit(self.name, list(store.names), list(store.lengths), self.clip_len, self.center,
                         dict(self.label_info))

    def _device_frames(self) -> DeviceFrames | None:
        store = self.store("train")
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        if not fits_on(store.frames.nbytes, device, self.device_memory_fraction):
            log.warning("data.on_device: %.1f GB of frames do not fit on %s; loading on the host",
                        store.frames.nbytes / 1e9, device)
            return None
        return DeviceFrames(store, device)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Finish loading an on-device batch (frame indices -> uint8 clips, the same batch as host
        loading); the on-device batch transform itself is :meth:`lnta.models.module.LNTAModule.make_inputs`."""
        if self.device_frames is not None and "clip_index" in batch:
            return self.device_frames.gather_batch(batch)
        return batch

    def _loader(self, dataset, batch_size: int, train: bool) -> DataLoader:
        # The training order and worker seeds come from train_order, not the global RNG (exact resume).
        order = self.train_order if train else None
        workers = 0 if isinstance(dataset, TrainIndices) else self.num_workers  # indices are cheap
        return DataLoader(dataset, batch_size=batch_size, sampler=order, drop_last=train,
                          num_workers=workers, persistent_workers=self.persistent_workers and workers > 0,
                          generator=torch.Generator().manual_seed(order.seed) if order else None)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, self.batch_size, train=True)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, self.eval_batch_size * self.eval_batch_scale, train=False)
