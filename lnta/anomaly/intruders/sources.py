"""Intruder sources for patch pseudo anomalies, read once into a compact uint8 bank."""
from __future__ import annotations

import codecs
import logging
import pickle
from pathlib import Path

import numpy as np
import torch

from lnta.anomaly.intruders.banks import ClipBank, CropBank, IntruderBank
from lnta.anomaly.intruders.noise import NoiseBank
from lnta.data.io.frames import FRAME_SUFFIXES, read_gray, resize_gray, rgb_to_gray
from lnta.data.labels.layouts import find_layout
from lnta.data.io.store import FrameStore
from lnta.errors import DataError
from lnta.io import is_macos_metadata

log = logging.getLogger(__name__)


def _array_globals() -> dict[tuple[str, str], object]:
    """The globals a pickled NumPy array names (protocols 2-5, NumPy 1 and 2 module names): nothing else."""
    probe = np.zeros(1, np.uint8)
    reconstruct, frombuffer = probe.__reduce__()[0], probe.__reduce_ex__(5)[0]
    allowed: dict[tuple[str, str], object] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                              ("_codecs", "encode"): codecs.encode}  # bytes in protocol 2
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{package}.numeric", "_frombuffer")] = frombuffer
    return allowed


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain data (dicts, lists, bytes, numbers) and NumPy arrays; refuses every other global,
    so a crafted file cannot make the load call anything (a CIFAR file is data, never code)."""

    ALLOWED = _array_globals()

    def find_class(self, module: str, name: str):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing global {module}.{name}") from None


def read_cifar_batch(path: Path) -> dict:
    """The dict of one CIFAR python pickle (``data``, labels, ...; keys as bytes), read without running
    anything it names. Errors: ``OSError``, ``pickle.UnpicklingError`` (also for a refused global), ``EOFError``."""
    with open(path, "rb") as f:
        return _ArrayUnpickler(f, encoding="bytes").load()


def _read_cifar_pickle(path: Path) -> np.ndarray:
    try:
        data = np.asarray(read_cifar_batch(path)[b"data"], dtype=np.uint8)
    except pickle.UnpicklingError as exc:
        raise DataError(f"{path}: not a CIFAR python pickle with a 'data' array (UnpicklingError: {exc})") from None
    except (OSError, EOFError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: not a CIFAR python pickle with a 'data' array ({exc.__class__.__name__})") from None
    if data.size == 0 or data.size % 3072:
        raise DataError(f"{path}: CIFAR pickle holds no 32x32 RGB images (data has {data.size} bytes)")
    return rgb_to_gray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def _cifar_files(path: Path, split: str) -> list[Path] | None:
    """The pickle files of a CIFAR-100 or CIFAR-10 python release at or below ``path``."""
    for base in (path, path / "cifar-100-python", path / "cifar-10-batches-py"):
        if (base / "meta").is_file() or (base / "train").is_file() or (base / "test").is_file():
            return [base / split] if (base / split).is_file() else []           # CIFAR-100
        if (base / "batches.meta").is_file() or (base / "test_batch").is_file():  # CIFAR-10
            return sorted(base.glob("data_batch_*")) if split == "train" else [base / "test_batch"]
    return None


def load_cifar(path: Path, split: str = "train") -> np.ndarray:
    """Grayscale uint8 (N, 32, 32) images of a CIFAR-100/10 python pickle (file or release folder)."""
    path = Path(path)
    files = [path] if path.is_file() else _cifar_files(path, split)
    if not files:
        other = "test" if split == "train" else "train"
        hint = (f"; it has the '{other}' split: set anomaly.intruder.split={other}"
                if files is not None and _cifar_files(path, other) else "")
        raise DataError(f"{path}: no CIFAR '{split}' split here (expected cifar-100-python/{split} "
                        f"or cifar-10-batches-py/{'data_batch_*' if split == 'train' else 'test_batch'}){hint}")
    return np.concatenate([_read_cifar_pickle(f) for f in files])


def load_image_folder(path: Path, size: int = 64, max_images: int = 50000) -> np.ndarray:
    """Grayscale uint8 (N, size, size) images of a folder (flat or one sub-folder per class)."""
    files = sorted(p for p in Path(path).rglob("*")
                   if p.suffix.lower() in FRAME_SUFFIXES and not is_macos_metadata(p.relative_to(path)))[:max_images]
    if not files:
        raise DataError(f"{path}: no images found (expected image files or class folders of images)")
    return np.stack([resize_gray(read_gray(f)[None], size)[0] for f in files])


def synthetic_intruders(count: int = 512, size: int = 32, seed: int = 0) -> np.ndarray:
    """Textured random images, the embedded stand-in when no image dataset is at hand."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(count):
        fx, fy, phase = rng.uniform(1, 6, 3)
        base = np.sin(2 * np.pi * (fx * xx + fy * yy) + phase) * rng.uniform(40, 110)
        blobs = sum(rng.uniform(-90, 90) * np.exp(-((xx - rng.random()) ** 2 + (yy - rng.random()) ** 2)
                                               / rng.uniform(0.005, 0.05)) for _ in range(4))
        images.append(np.clip(rng.uniform(60, 190) + base + blobs + rng.normal(0, 8, xx.shape), 0, 255))
    return np.stack(images).astype(np.uint8)


SOURCES = ("auto", "cifar", "folder", "clips", "synthetic", "noise")


def load_clip_frames(path: Path, size: int) -> FrameStore:
    """All training frames of a dataset in any layout lnta reads, decoded at ``size``."""
    return FrameStore.decode(find_layout(path, key="anomaly.intruder.path").train, size)


def build_intruders(source: str = "auto", path: str | None = None, split: str = "train",
                    size: int | None = None, max_images: int = 20000, clip_len: int = 16,
                    crop_scale=(0.08, 1.0), crop_ratio=(3 / 4, 4 / 3), flip: float = 0.5,
                    sigma: float = 0.5) -> IntruderBank:
    """The intruder bank of ``anomaly.intruder``.

    ``source``: 'cifar' (CIFAR-100/10 python pickle or release folder, ``split`` train/test),
    'folder' (image files, flat or one sub-folder per class; stored square at ``size``, default
    128, at most ``max_images``), 'clips' (the training videos of any dataset lnta reads at
    ``path``, stored at ``size``, default 256, pasted ``clip_len`` frames at a time),
    'synthetic' (generated textures, needs no path), 'noise' (Gaussian noise of std ``sigma``, fresh
    per frame, needs no path: :class:`~lnta.anomaly.intruders.noise.NoiseBank`) or 'auto' (CIFAR if the path
    holds a CIFAR release, else an image folder; the synthetic textures, with a warning, if the path is unset
    or absent). Folder images are cropped by :class:`CropBank` with ``crop_scale``, ``crop_ratio`` and ``flip``.
    """
    if source not in SOURCES:
        raise DataError(f"anomaly.intruder.source={source!r}: expected one of {', '.join(SOURCES)}")
    if source == "auto" and (not path or not Path(path).expanduser().exists()):
        log.warning("anomaly.intruder.path=%s: not found; using the synthetic intruders (intruder.source=auto). "
                    "The paper's are CIFAR-100: python -m lnta.download cifar100", path)
        source = "synthetic"
    if source == "synthetic":
        return IntruderBank(torch.from_numpy(synthetic_intruders()))
    if source == "noise":
        return NoiseBank(sigma)
    if not path:
        raise DataError(f"anomaly.intruder.path is required for intruder source '{source}'")
    p = Path(path).expanduser()
    if not p.exists():
        hint = f"; get CIFAR-100 with: python -m lnta.download cifar100 root={p.parent}" if source == "cifar" else ""
        raise DataError(f"anomaly.intruder.path={p}: not found (expected a CIFAR pickle/release, "
                        f"an image folder or a frames-layout dataset){hint}")
    if source == "clips":
        store = load_clip_frames(p, size or 256)
        return ClipBank(torch.from_numpy(store.frames), store.lengths, clip_len)
    is_cifar = p.is_file() or _cifar_files(p, split) is not None
    if source == "cifar" or (source == "auto" and is_cifar):
        return IntruderBank(torch.from_numpy(load_cifar(p, split)))
    try:
        return CropBank(torch.from_numpy(load_image_folder(p, size or 128, max_images)), tuple(crop_scale),
                        tuple(crop_ratio), flip)
    except DataError:
        if source == "folder":
            raise
        raise DataError(f"anomaly.intruder.path={p}: holds neither a CIFAR python release nor image files") from None
