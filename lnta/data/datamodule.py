"""LightningDataModule over a frames-layout dataset: uint8 clip batches for training and test."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from lnta.data.datasets import TestClips, TrainClips
from lnta.data.labels import find_label_file, load_frame_labels, split_labels
from lnta.data.ondevice import DeviceFrames, TrainIndices, fits_on
from lnta.data.sampling import REFERENCE_CENTER
from lnta.data.store import FrameStore
from lnta.errors import DataError

log = logging.getLogger(__name__)


class VideoDataModule(pl.LightningDataModule):
    """The common frames layout: ``<root>/training/frames/<video>/<n>.jpg``, ``<root>/testing/frames/...``.

    Frames are decoded once per split into a uint8 :class:`FrameStore` (grayscale, resized to
    ``image_size``); batches hold uint8 clips and are normalised on the training device.
    ``labels`` is a frame-label ``.npy`` (default: ``frame_labels*.npy`` in ``root``).
    ``skips`` (from the skip-frame anomaly) makes training items carry a skip-frame pair.
    ``on_device`` keeps the training frames on the training device and gathers clips there
    (:mod:`lnta.data.ondevice`); it falls back to host loading when they do not fit.
    """

    def __init__(self, root: str, name: str = "frames", image_size: int = 256, clip_len: int = 16,
                 batch_size: int = 4, eval_batch_size: int = 16, num_workers: int = 0,
                 labels: str | None = None, skips: Sequence[int] | None = None,
                 train_dir: str = "training/frames", test_dir: str = "testing/frames",
                 center: int = REFERENCE_CENTER, persistent_workers: bool = True, on_device: bool = False):
        super().__init__()
        self.root = Path(root).expanduser()
        self.name, self.image_size, self.clip_len = name, image_size, clip_len
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.labels_path = Path(labels).expanduser() if labels else None
        self.skips = list(skips) if skips else None
        self.train_dir, self.test_dir, self.center = train_dir, test_dir, center
        self.persistent_workers = persistent_workers
        self.on_device = on_device
        self.device_frames: DeviceFrames | None = None
        self._stores: dict[str, FrameStore] = {}
        self.test_labels: dict[str, np.ndarray] | None = None

    def check_root(self) -> None:
        if not self.root.is_dir():
            raise DataError(f"data.root={self.root}: folder not found")

    def store(self, split: str) -> FrameStore:
        """The decoded frames of ``split`` ('train' or 'test'), decoded on first use."""
        if split not in self._stores:
            self.check_root()
            sub = self.train_dir if split == "train" else self.test_dir
            store = FrameStore.from_frame_folders(self.root / sub, self.image_size)
            short = [n for n, length in zip(store.names, store.lengths) if length < self.clip_len]
            if short:
                raise DataError(f"{self.root / sub}: videos {short} have fewer than {self.clip_len} frames")
            log.info("%s %s: %d videos, %d frames at %s", self.name, split, len(store.names),
                     sum(store.lengths), store.image_size)
            self._stores[split] = store
        return self._stores[split]

    def load_test_labels(self) -> dict[str, np.ndarray]:
        store = self.store("test")
        path = self.labels_path or find_label_file(self.root)
        if path is None:
            raise DataError(f"data.root={self.root}: no frame_labels*.npy found; set data.labels=FILE")
        return split_labels(load_frame_labels(path), store.names, store.lengths, str(path))

    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", None):
            self.device_frames = self._device_frames() if self.on_device else None
            dataset = TrainIndices if self.device_frames else TrainClips
            self.train_set = dataset(self.store("train"), self.clip_len, self.skips)
        if stage in ("test", None):
            self.test_set = TestClips(self.store("test"), self.clip_len, self.center)
            self.test_labels = self.load_test_labels()

    def _device_frames(self) -> DeviceFrames | None:
        store = self.store("train")
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        if not fits_on(store.frames.nbytes, device):
            log.warning("data.on_device: %.1f GB of frames do not fit on %s; loading on the host",
                        store.frames.nbytes / 1e9, device)
            return None
        return DeviceFrames(store, device)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if self.device_frames is not None and "clip_index" in batch:
            return self.device_frames.gather_batch(batch)
        return batch

    def _loader(self, dataset, batch_size: int, train: bool) -> DataLoader:
        workers = 0 if isinstance(dataset, TrainIndices) else self.num_workers  # indices are cheap
        return DataLoader(dataset, batch_size=batch_size, shuffle=train, drop_last=train,
                          num_workers=workers, persistent_workers=self.persistent_workers and workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, self.batch_size, train=True)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, self.eval_batch_size, train=False)
