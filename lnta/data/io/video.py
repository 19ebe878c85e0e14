"""One small interface over the ways a video is stored: a frame folder, or a video file read
with decord (fast random access) or PyAV (the fallback, the streaming reader and the writer for
test videos).

Every reader returns exact frames by index as grayscale uint8 (T, H, W) at the stored size, or
streams them one at a time (``frames()``); :func:`decode_gray` streams any FFmpeg input (a file,
a device, a URL) without knowing its length. Colour is turned into luma by :func:`rgb_to_gray`
everywhere.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from lnta.data.io.frames import list_frames, read_gray, rgb_to_gray
from lnta.errors import DataError

log = logging.getLogger(__name__)

#: File suffixes read as videos (dataset layouts and ``lnta.score`` inputs).
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm", ".wmv")
BACKENDS = ("auto", "decord", "pyav")


def _unreadable(path: Path, exc: BaseException) -> DataError:
    return DataError(f"{path}: unreadable or corrupt video ({exc.__class__.__name__}: {exc})")


def _as_indices(indices: Sequence[int], length: int, path: Path) -> np.ndarray:
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= length):
        raise DataError(f"{path}: frame index {int(idx.max() if idx.max() >= length else idx.min())} "
                        f"outside 0..{length - 1}")
    return idx


def decode_gray(path: Path | str, input_format: str | None = None) -> Iterator[np.ndarray]:
    """Every frame of a video file, device or URL in order as uint8 (H, W) luma, decoded by PyAV one
    at a time (memory does not grow with the length). ``input_format`` forces an FFmpeg demuxer
    (e.g. ``v4l2``). Errors: :class:`DataError` naming ``path`` when it cannot be opened or decoded."""
    import av

    try:
        with av.open(str(path), format=input_format) as container:
            for frame in container.decode(video=0):
                yield rgb_to_gray(frame.to_ndarray(format="rgb24"))
    except Exception as exc:  # noqa: BLE001 - av.error.* and demuxer errors
        raise _unreadable(Path(path), exc) from None


def probe_video(path: Path | str, input_format: str | None = None) -> tuple[int | None, float | None]:
    """(frame count, frames per second) of a video file, device or URL from its header; None where unknown."""
    import av

    try:
        with av.open(str(path), format=input_format) as container:
            if not container.streams.video:
                raise DataError(f"{path}: no video stream")
            stream = container.streams.video[0]
            return (stream.frames or None), (float(stream.average_rate) if stream.average_rate else None)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _unreadable(Path(path), exc) from None


class _Reader:
    """``len(reader)`` frames; ``read(indices)`` -> uint8 (T, H, W); ``chunks(n)`` yields all frames in
    order, ``n`` at a time; ``frames()`` one (H, W) frame at a time."""

    def chunks(self, n: int = 64):
        for start in range(0, len(self), n):
            yield self.read(np.arange(start, min(start + n, len(self))))

    def frames(self) -> Iterator[np.ndarray]:
        for chunk in self.chunks(1):
            yield chunk[0]


class FolderReader(_Reader):
    """A video stored as one image per frame, in numeric file order."""

    def __init__(self, folder: Path):
        self.path = Path(folder)
        self.files = list_frames(self.path)
        if not self.files:
            raise DataError(f"{self.path}: no frame images found")

    def __len__(self) -> int:
        return len(self.files)

    def frames(self) -> Iterator[np.ndarray]:
        for path in self.files:
            yield read_gray(path)

    def read(self, indices: Sequence[int]) -> np.ndarray:
        idx = _as_indices(indices, len(self), self.path)
        frames = [read_gray(self.files[i]) for i in idx]
        self.shape = getattr(self, "shape", None) or (frames[0].shape if frames else None)
        for i, frame in zip(idx, frames):  # against every frame read before, also across chunks
            if frame.shape != self.shape:
                raise DataError(f"{self.files[i]}: frame of {frame.shape[0]}x{frame.shape[1]} (HxW) but "
                                f"earlier frames of this video are {self.shape[0]}x{self.shape[1]}; "
                                "every frame of a video must have one size")
        return np.stack(frames)


class DecordReader(_Reader):
    """A video file read with decord: frame-accurate random access."""

    def __init__(self, path: Path):
        import decord

        self.path = Path(path)
        try:
            self._vr = decord.VideoReader(str(self.path))
        except Exception as exc:  # noqa: BLE001 - decord raises its own untyped errors
            raise _unreadable(self.path, exc) from None

    def __len__(self) -> int:
        return len(self._vr)

    def read(self, indices: Sequence[int]) -> np.ndarray:
        idx = _as_indices(indices, len(self), self.path)
        try:
            return rgb_to_gray(self._vr.get_batch(idx.tolist()).asnumpy())
        except Exception as exc:  # noqa: BLE001
            raise _unreadable(self.path, exc) from None


class PyAVReader(_Reader):
    """A video file read with PyAV by decoding in order (exact, slower for random access)."""

    def __init__(self, path: Path):
        import av

        self.path = Path(path)
        try:  # count packets without decoding
            with av.open(str(self.path)) as container:
                self._length = sum(1 for packet in container.demux(video=0) if packet.size)
        except Exception as exc:  # noqa: BLE001 - av.error.* and demuxer errors
            raise _unreadable(self.path, exc) from None
        if not self._length:
            raise DataError(f"{self.path}: video has no frames")

    def _decode(self, wanted: set[int]) -> dict[int, np.ndarray]:
        frames: dict[int, np.ndarray] = {}
        for i, frame in enumerate(decode_gray(self.path)):
            if i in wanted:
                frames[i] = frame
            if len(frames) == len(wanted):
                break
        missing = wanted - frames.keys()
        if missing:
            raise DataError(f"{self.path}: frame {min(missing)} could not be decoded")
        return frames

    def __len__(self) -> int:
        return self._length

    def frames(self) -> Iterator[np.ndarray]:
        return decode_gray(self.path)

    def chunks(self, n: int = 64):
        """One sequential decode (re-decoding from the start per chunk would be quadratic)."""
        batch: list[np.ndarray] = []
        count = 0
        for frame in decode_gray(self.path):
            batch.append(frame)
            count += 1
            if len(batch) == n:
                yield np.stack(batch)
                batch = []
        if batch:
            yield np.stack(batch)
        if count != len(self):
            raise DataError(f"{self.path}: decoded {count} frames but the container holds {len(self)}")

    def read(self, indices: Sequence[int]) -> np.ndarray:
        idx = _as_indices(indices, len(self), self.path)
        frames = self._decode(set(idx.tolist()))
        return np.stack([frames[i] for i in idx])


def _decord_available() -> bool:
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True


def open_video(path: Path, backend: str = "auto"):
    """A reader for ``path``: a frame folder, or a video file with ``backend`` (auto/decord/pyav)."""
    path = Path(path)
    if backend not in BACKENDS:
        raise DataError(f"data.backend={backend}: expected one of {', '.join(BACKENDS)}")
    if path.is_dir():
        return FolderReader(path)
    if not path.is_file():
        raise DataError(f"{path}: video not found")
    if backend == "pyav" or (backend == "auto" and not _decord_available()):
        return PyAVReader(path)
    reader = DecordReader(path)
    if backend == "auto":
        try:  # decord rejects some streams (e.g. some narrow frame widths such as 48 or 72 px) that PyAV reads
            reader.read([0])
        except DataError as exc:
            log.warning("%s; reading it with PyAV instead", exc)
            return PyAVReader(path)
    return reader


def write_video(path: Path, frames: np.ndarray, fps: int = 25) -> None:
    """Write uint8 (N, H, W) grayscale frames losslessly (FFV1) with PyAV, for tests and tools."""
    import av

    frames = np.asarray(frames, dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "bgr0"
        for frame in frames:
            rgb = np.repeat(frame[..., None], 3, axis=2)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
