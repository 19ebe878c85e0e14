"""The prepared cache: decoded, resized grayscale uint8 frames that training memory-maps.

``<cache>/index.json`` lists each split's videos, frame counts and source fingerprints (number of
files, bytes, and a digest of every file's name, size and modification time); ``<cache>/<split>.u8``
holds the split's frames, videos concatenated in index order, as raw uint8 (N, H, W). It is written
into a temporary folder ``.<H>x<W>.tmp-<host>-<pid>`` and moved into place only after it verified, so
a failed build leaves nothing; a temporary folder left by a killed build is removed by the next one.
Opening the cache for a dataset whose files changed since (frames added, deleted or rewritten) is
refused with one line asking to re-run ``python -m lnta.prepare``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import socket
import time
from pathlib import Path
from typing import Callable

import numpy as np

from lnta.data.io.frames import list_frames
from lnta.data.io.store import FrameStore, resized_chunks
from lnta.errors import DataError
from lnta.io import pid_alive, write_json

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: per-video source fingerprints
INDEX = "index.json"
REBUILD = "re-run python -m lnta.prepare with the same data settings"
#: a temporary build folder of another host is stale when nothing in it changed for this long
STALE_FOREIGN_S = 2 * 24 * 3600
_TMP = re.compile(r"\.tmp(?:-(?P<host>.+)-)?(?P<pid>\d+)$")


def _size(image_size) -> tuple[int, int]:
    return (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)


def cache_path(root: Path, image_size, cache_dir: str | None = None) -> Path:
    """Where the cache of ``root`` at ``image_size`` lives: ``<cache_dir or root/lnta_cache>/<H>x<W>``."""
    height, width = _size(image_size)
    return Path(cache_dir or Path(root) / "lnta_cache").expanduser() / f"{height}x{width}"


def _write_split(path: Path, videos: list[tuple[str, Path]], size, backend: str, split: str = "") -> list[int]:
    """Decode ``videos`` into ``path``; one progress line per video (a long decode shows where it is)."""
    lengths = []
    start = time.monotonic()
    with open(path, "wb") as out:
        for i, (name, source) in enumerate(videos, 1):
            count = 0
            for frames in resized_chunks(source, size, backend):
                np.ascontiguousarray(frames).tofile(out)
                count += len(frames)
            lengths.append(count)
            log.info("%s %d/%d: video %s, %d frames (%.1f s so far)", split or path.stem, i, len(videos), name,
                     count, time.monotonic() - start)
    return lengths


def source_fingerprint(path: Path) -> dict:
    """What a video's source looks like on disk: ``files`` (frame files, or 1 for a video file),
    ``bytes`` (their total size) and ``digest`` (SHA-1 of every file's name, size and mtime in ns)."""
    path = Path(path)
    files = list_frames(path) if path.is_dir() else [path]
    digest, total = hashlib.sha1(), 0
    for f in files:
        stat = f.stat()
        total += stat.st_size
        digest.update(f"{f.name}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return {"files": len(files), "bytes": total, "digest": digest.hexdigest()}


def _owner_gone(tmp: Path, host: str | None, pid: int) -> bool:
    if host in (None, socket.gethostname()):
        return not pid_alive(pid)
    newest = max((p.stat().st_mtime for p in (tmp, *tmp.rglob("*"))), default=0)
    return time.time() - newest > STALE_FOREIGN_S


def remove_stale_builds(dest: Path) -> list[Path]:
    """Remove temporary build folders of ``dest`` whose build was killed (SIGKILL, power loss):
    on this host when their process is gone, from another host when untouched for two days.
    Returns the folders removed."""
    dest, removed = Path(dest), []
    if not dest.parent.is_dir():
        return removed
    for tmp in dest.parent.glob(f".{dest.name}.tmp*"):
        match = _TMP.search(tmp.name)
        if match and tmp.is_dir() and _owner_gone(tmp, match["host"], int(match["pid"])):
            shutil.rmtree(tmp, ignore_errors=True)
            log.warning("removed %s, left by a build that was killed", tmp)
            removed.append(tmp)
    return removed


def build_cache(dest: Path, splits: dict[str, list[tuple[str, Path]]], image_size, backend: str = "auto",
                verify: Callable[[str, FrameStore], None] | None = None) -> Path:
    """Decode every split's videos into ``dest``; ``verify(split, store)`` may reject the result."""
    dest, size = Path(dest), _size(image_size)
    remove_stale_builds(dest)
    tmp = dest.with_name(f".{dest.name}.tmp-{socket.gethostname()}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        index = {"version": CACHE_VERSION, "image_size": list(size), "splits": {}}
        for split, videos in splits.items():
            fingerprints = [source_fingerprint(p) for _, p in videos]  # before decoding: a later change shows
            lengths = _write_split(tmp / f"{split}.u8", videos, size, backend, split)
            index["splits"][split] = {"names": [n for n, _ in videos], "lengths": lengths,
                                      "sources": [str(p) for _, p in videos], "fingerprints": fingerprints}
            if verify is not None:
                verify(split, _open_split(tmp, split, index))
        write_json(tmp / INDEX, index)
        os.chmod(tmp / INDEX, 0o644)  # readable like the frame files, for a shared cache
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _check_fresh(folder: Path, split: str, entry: dict, videos: list[tuple[str, Path]]) -> None:
    """The cached split against the videos on disk now: the same names, files, sizes and mtimes."""
    names = [n for n, _ in videos]
    if entry["names"] != names:
        extra = sorted(set(names) - set(entry["names"])) or sorted(set(entry["names"]) - set(names))
        raise DataError(f"{folder}: the cache holds other {split} videos than the dataset now ({len(entry['names'])} "
                        f"cached, {len(names)} now; first difference: {extra[0] if extra else 'their order'}); "
                        f"{REBUILD}")
    for (name, path), length, old in zip(videos, entry["lengths"], entry["fingerprints"]):
        new = source_fingerprint(path)
        if new != old:
            what = (f"{new['files']} frame files now, {old['files']} when prepared ({length} frames cached)"
                    if new["files"] != old["files"] else "its files changed (sizes or modification times)")
            raise DataError(f"{folder}: stale cache: {split} video {name} ({path}): {what}; {REBUILD}")


def _open_split(folder: Path, split: str, index: dict) -> FrameStore:
    entry = index["splits"][split]
    height, width = index["image_size"]
    path = folder / f"{split}.u8"
    total = int(sum(entry["lengths"]))
    if not path.is_file() or path.stat().st_size != total * height * width:
        raise DataError(f"{path}: cache file incomplete (expected {total} frames of {height}x{width}); {REBUILD}")
    frames = np.memmap(path, dtype=np.uint8, mode="r", shape=(total, height, width)) if total else \
        np.zeros((0, height, width), np.uint8)
    return FrameStore(list(entry["names"]), list(entry["lengths"]), frames)


def open_cache(folder: Path, split: str, image_size,
               videos: list[tuple[str, Path]] | None = None) -> FrameStore | None:
    """The memory-mapped split of the cache in ``folder``, or None when there is no cache there.

    With ``videos`` (the split's ``(name, source)`` pairs now) a cache that no longer matches them is
    refused (:class:`DataError` naming the video and asking to re-run ``lnta.prepare``)."""
    index_path = Path(folder) / INDEX
    if not index_path.is_file():
        return None
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{index_path}: unreadable cache index ({exc}); {REBUILD}")
    if index.get("version") != CACHE_VERSION or tuple(index.get("image_size", ())) != _size(image_size):
        raise DataError(f"{index_path}: cache version/size {index.get('version')}/{index.get('image_size')} "
                        f"does not match {CACHE_VERSION}/{list(_size(image_size))}; {REBUILD}")
    if split not in index.get("splits", {}):
        raise DataError(f"{index_path}: no '{split}' split in the cache; {REBUILD}")
    if videos is not None:
        _check_fresh(Path(folder), split, index["splits"][split], videos)
    return _open_split(Path(folder), split, index)
