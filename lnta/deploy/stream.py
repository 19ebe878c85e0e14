"""Incremental scoring of the user's own footage: frame sources, sliding clips, per-frame PSNRs.

Frames are read one at a time by the readers of :mod:`lnta.data.io.video` (PyAV for video files
and devices, PIL for frame folders); the clips come from :func:`lnta.data.sampling.scored_clips`
(the ``pad``/``drop`` edge rules). Only the current clip window and one batch of clips are held,
so memory does not grow with the length of the video.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from lnta.data.io.frames import frame_sort_key, list_frames, resize_gray
from lnta.data.io.video import VIDEO_SUFFIXES, FolderReader, decode_gray, probe_video
from lnta.data.sampling import scored_clips
from lnta.data.transforms import to_unit
from lnta.errors import DataError
from lnta.io import is_macos_metadata
from lnta.metrics.protocol import score_clips
from lnta.trainer.precision import Speed, autocast

@dataclass
class Source:
    """One video to score: a video file, a frame folder, or a live device/URL read by FFmpeg."""

    name: str
    path: str
    kind: str  # "video", "frames" or "device"
    input_format: str | None = None

    def info(self) -> tuple[int | None, float | None]:
        """(frame count if known, frames per second if known)."""
        if self.kind == "frames":
            return len(FolderReader(Path(self.path))), None
        return probe_video(self.path, self.input_format)

    def frames(self) -> Iterator[np.ndarray]:
        """Grayscale uint8 (H, W) frames at their native size, one at a time (the readers of
        :mod:`lnta.data.io.video`, as in training)."""
        if self.kind == "frames":
            return FolderReader(Path(self.path)).frames()
        return decode_gray(self.path, self.input_format)


def _has_frames(folder: Path) -> bool:
    return bool(list_frames(folder))


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
    for child in sorted((c for c in p.iterdir() if not c.name.startswith(".") and not is_macos_metadata(c.name)),
                        key=frame_sort_key):
        if child.is_file() and child.suffix.lower() in VIDEO_SUFFIXES:
            sources.append(Source(child.stem, str(child), "video", input_format))
        elif child.is_dir() and _has_frames(child):
            sources.append(Source(child.name, str(child), "frames"))
    if not sources:
        raise DataError(f"input={p}: no frames, videos or frame folders inside")
    return sources


@dataclass
class FrameResult:
    frame: int
    psnr: float
    image: np.ndarray | None = None   # the scored frame as the model saw it, uint8 (H, W)
    error: np.ndarray | None = None   # its error map (lnta.metrics.protocol.error_map): squared, [-1, 1] units, (H, W)


@torch.no_grad()
def _score_batch(model, batch, center, device, maps, speed) -> Iterator[FrameResult]:
    index, clips = zip(*batch)
    x = to_unit(torch.from_numpy(np.stack([np.stack(c) for c in clips])).unsqueeze(1).to(device))
    with autocast(speed, device):
        out = score_clips(model, x, center, maps)
    psnr = out["psnr"].float().cpu().numpy()
    error = out["error"].cpu().numpy() if maps else None
    for k, f in enumerate(index):
        yield FrameResult(int(f), float(psnr[k]), clips[k][center] if maps else None,
                          error[k] if maps else None)


def score_frames(model: Callable[[torch.Tensor], torch.Tensor], frames: Iterable[np.ndarray], *, image_size, clip_len: int,
                 center: int, edges: str = "pad", batch_size: int = 16, device="cpu",
                 maps: bool = False, speed: Speed | None = None) -> Iterator[FrameResult]:
    """Per-frame PSNRs of a frame stream, yielded as soon as each batch of clips is computed.

    ``model`` is in eval mode on ``device`` (or its :func:`~lnta.trainer.compiled.inference_forward`); frames are resized to ``image_size`` as in training.
    ``speed`` (:func:`lnta.trainer.precision.resolve_speed`) sets the autocast, as in ``lnta.eval``;
    None runs fp32.
    With ``maps`` each result also carries the scored frame and its reconstruction error map
    (:func:`lnta.metrics.protocol.error_map`, the one the pixel AUC and ``heatmaps.png`` use).
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
