"""The prepared cache: decoded, resized grayscale uint8 frames that training memory-maps.

``<cache>/index.json`` lists each split's videos and frame counts; ``<cache>/<split>.u8`` holds the
split's frames, videos concatenated in index order, as raw uint8 (N, H, W). It is written into a
temporary folder and moved into place only after it verified, so a failed build leaves nothing.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from lnta.data.io.store import FrameStore, resized_chunks
from lnta.errors import DataError
from lnta.io import write_json

CACHE_VERSION = 1
INDEX = "index.json"


def _size(image_size) -> tuple[int, int]:
    return (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)


def cache_path(root: Path, image_size, cache_dir: str | None = None) -> Path:
    """Where the cache of ``root`` at ``image_size`` lives: ``<cache_dir or root/lnta_cache>/<H>x<W>``."""
    height, width = _size(image_size)
    return Path(cache_dir or Path(root) / "lnta_cache").expanduser() / f"{height}x{width}"


def _write_split(path: Path, videos: list[tuple[str, Path]], size, backend: str) -> list[int]:
    lengths = []
    with open(path, "wb") as out:
        for _, source in videos:
            count = 0
            for frames in resized_chunks(source, size, backend):
                np.ascontiguousarray(frames).tofile(out)
                count += len(frames)
            lengths.append(count)
    return lengths


def build_cache(dest: Path, splits: dict[str, list[tuple[str, Path]]], image_size, backend: str = "auto",
                verify: Callable[[str, FrameStore], None] | None = None) -> Path:
    """Decode every split's videos into ``dest``; ``verify(split, store)`` may reject the result."""
    dest, size = Path(dest), _size(image_size)
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        index = {"version": CACHE_VERSION, "image_size": list(size), "splits": {}}
        for split, videos in splits.items():
            lengths = _write_split(tmp / f"{split}.u8", videos, size, backend)
            index["splits"][split] = {"names": [n for n, _ in videos], "lengths": lengths,
                                      "sources": [str(p) for _, p in videos]}
            if verify is not None:
                verify(split, _open_split(tmp, split, index))
        write_json(tmp / INDEX, index)
        os.chmod(tmp / INDEX, 0o644)  # readable like the frame files, for a shared cache
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _open_split(folder: Path, split: str, index: dict) -> FrameStore:
    entry = index["splits"][split]
    height, width = index["image_size"]
    path = folder / f"{split}.u8"
    total = int(sum(entry["lengths"]))
    if not path.is_file() or path.stat().st_size != total * height * width:
        raise DataError(f"{path}: cache file incomplete (expected {total} frames of {height}x{width}); "
                        "rebuild it with python -m lnta.prepare")
    frames = np.memmap(path, dtype=np.uint8, mode="r", shape=(total, height, width)) if total else \
        np.zeros((0, height, width), np.uint8)
    return FrameStore(list(entry["names"]), list(entry["lengths"]), frames)


def open_cache(folder: Path, split: str, image_size) -> FrameStore | None:
    """The memory-mapped split of the cache in ``folder``, or None when there is no cache there."""
    index_path = Path(folder) / INDEX
    if not index_path.is_file():
        return None
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{index_path}: unreadable cache index ({exc}); rebuild it with python -m lnta.prepare")
    if index.get("version") != CACHE_VERSION or tuple(index.get("image_size", ())) != _size(image_size):
        raise DataError(f"{index_path}: cache version/size {index.get('version')}/{index.get('image_size')} "
                        f"does not match {CACHE_VERSION}/{list(_size(image_size))}; rebuild it with "
                        "python -m lnta.prepare")
    if split not in index.get("splits", {}):
        raise DataError(f"{index_path}: no '{split}' split in the cache")
    return _open_split(Path(folder), split, index)
