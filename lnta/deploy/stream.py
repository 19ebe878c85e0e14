"""Incremental scoring of the user's own footage: frame sources, sliding clips, per-frame PSNRs.

Frames are read one at a time (PyAV for video files and devices, PIL for frame folders) and
only the current clip window and one batch of clips are held, so memory does not grow with the
length of the video.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np
import torch

from lnta.data.io.frames import FRAME_SUFFIXES, frame_sort_key, list_frames, read_gray, resize_gray
from lnta.data.transforms import to_unit
from lnta.errors import ConfigError, DataError
from lnta.metrics.protocol import frame_psnr
from lnta.trainer.precision import Speed, autocast

VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm", ".wmv")
#: Edge rules: ``pad`` scores every frame (clips at the ends repeat the first/last frame);
#: ``drop`` is the reference (the first ``center`` and last ``clip_len - 1 - center`` frames get no score).
EDGES = ("pad", "drop")


def pick_device(name: str) -> torch.device:
    """``auto`` (a GPU when there is one), ``cpu``, ``cuda``, ``cuda:1`` ..."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name}: no CUDA device available")
    return torch.device(name)


@dataclass
class Source:
    """One video to score: a video file, a frame folder, or a live device/URL read by FFmpeg."""

    name: str
    path: str
    kind: str  # "video", "frames" or "device"
    input_format: str | None = None

    def _open(self):
        try:
            return av.open(self.path, format=self.input_format)
        except (av.FFmpegError, OSError) as exc:
            raise DataError(f"{self.path}: cannot open as a video ({exc})") from None

    def info(self) -> tuple[int | None, float | None]:
        """(frame count if known, frames per second if known)."""
        if self.kind == "frames":
            return len(list_frames(Path(self.path))), None
        with self._open() as container:
            if not container.streams.video:
                raise DataError(f"{self.path}: no video stream")
            stream = container.streams.video[0]
            rate = float(stream.average_rate) if stream.average_rate else None
            return (stream.frames or None), rate

    def frames(self) -> Iterator[np.ndarray]:
        """Grayscale uint8 (H, W) frames at their native size, one at a time (ITU-R 601 luma, as PIL)."""
        if self.kind == "frames":
            for path in list_frames(Path(self.path)):
                yield read_gray(path)
            return
        with self._open() as container:
            try:
                for frame in container.decode(video=0):
                    yield np.asarray(frame.to_image().convert("L"))
            except av.FFmpegError as exc:
                raise DataError(f"{self.path}: decoding failed ({exc})") from None


def _has_frames(folder: Path) -> bool:
    return any(p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith("._") for p in folder.iterdir())


def find_sources(path: str, input_format: str | None = None) -> list[Source]:
    """What ``input=PATH`` names: a video file, a frame folder, a folder of either, or a device/URL."""
    if "://" in path or path.startswith("/dev/"):
        return [Source(Path(path).name or "stream", path, "device", input_format)]
    p = Path(path).expanduser()
    if p.is_file():
        if p.suffix.lower() not in VIDEO_SUFFIXES:
            raise DataError(f"input={p}: not a video file ({', '.join(VIDEO_SUFFIXES)})")
        return [Source(p.stem, str(p), "video", input_format)]
    if not p.is_dir():
        raise DataError(f"input={p}: no such file or folder")
    if _has_frames(p):
        return [Source(p.name, str(p), "frames")]
    sources = []
    for child in sorted((c for c in p.iterdir() if not c.name.startswith(".")), key=frame_sort_key):
        if child.is_file() and child.suffix.lower() in VIDEO_SUFFIXES:
            sources.append(Source(child.stem, str(child), "video", input_format))
        elif child.is_dir() and _has_frames(child):
            sources.append(Source(child.name, str(child), "frames"))
    if not sources:
        raise DataError(f"input={p}: no frames, videos or frame folders inside")
    return sources


def padded(frames: Iterable, before: int, after: int) -> Iterator:
    """``frames`` with the first repeated ``before`` times in front and the last ``after`` times behind."""
    last = None
    for last in frames:
        if before:
            yield from [last] * before
            before = 0
        yield last
    if last is not None:
        yield from [last] * after


def windows(frames: Iterable, clip_len: int) -> Iterator[list]:
    """Every stride-1 window of ``clip_len`` consecutive items, holding only one window."""
    window: deque = deque(maxlen=clip_len)
    for frame in frames:
        window.append(frame)
        if len(window) == clip_len:
            yield list(window)


def scored_clips(frames: Iterable[np.ndarray], clip_len: int, center: int, edges: str) -> Iterator[tuple[int, list]]:
    """``(frame_index, clip)`` for every scored frame; see :data:`EDGES` for the rule at the ends."""
    if edges not in EDGES:
        raise ConfigError(f"edges={edges}: expected one of {', '.join(EDGES)}")
    if edges == "pad":
        return enumerate(windows(padded(frames, center, clip_len - 1 - center), clip_len))
    return enumerate(windows(frames, clip_len), start=center)


@dataclass
class FrameResult:
    frame: int
    psnr: float
    image: np.ndarray | None = None   # the scored frame as the model saw it, uint8 (H, W)
    error: np.ndarray | None = None   # |reconstruction - input| of that frame in [-1, 1] units, (H, W)


@torch.no_grad()
def _score_batch(model, batch, center, device, maps, speed) -> Iterator[FrameResult]:
    index, clips = zip(*batch)
    x = to_unit(torch.from_numpy(np.stack([np.stack(c) for c in clips])).unsqueeze(1).to(device))
    with autocast(speed, device):
        y = model(x)
    psnr = frame_psnr(y, x, center).cpu().numpy()
    error = (y[:, 0, center].float() - x[:, 0, center]).abs().cpu().numpy() if maps else None
    for k, f in enumerate(index):
        yield FrameResult(int(f), float(psnr[k]), clips[k][center] if maps else None,
                          error[k] if maps else None)


def score_frames(model: torch.nn.Module, frames: Iterable[np.ndarray], *, image_size, clip_len: int,
                 center: int, edges: str = "pad", batch_size: int = 16, device="cpu",
                 maps: bool = False, speed: Speed | None = None) -> Iterator[FrameResult]:
    """Per-frame PSNRs of a frame stream, yielded as soon as each batch of clips is computed.

    ``model`` is in eval mode on ``device``; frames are resized to ``image_size`` as in training.
    ``speed`` (:func:`lnta.trainer.precision.resolve_speed`) sets the autocast, as in ``lnta.eval``;
    None runs fp32.
    With ``maps`` each result also carries the scored frame and its reconstruction error map.
    """
    resized = (resize_gray(f[None], image_size)[0] for f in frames)
    batch: list = []
    for item in scored_clips(resized, clip_len, center, edges):
        batch.append(item)
        if len(batch) == batch_size:
            yield from _score_batch(model, batch, center, device, maps, speed)
            batch = []
    if batch:
        yield from _score_batch(model, batch, center, device, maps, speed)
