"""Reconstruction-error heatmaps blended onto the scored frames, written as PNGs or a video.

Overlays are drawn at the input's size: the model's error map (``image_size`` square; the squared error
of :func:`lnta.metrics.protocol.error_map`) is shown as its square root, the absolute error in [-1, 1]
units (for grayscale frames ``|reconstruction - input|``), upsampled bilinearly onto the original frame,
with a colour bar (0 to ``heatmap_max``, absolute error) and the frame index and score written on each frame.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont

from lnta.errors import ConfigError

OVERLAY_KINDS = ("frames", "video")


def heatmap_overlay(image: np.ndarray, error: np.ndarray, vmax: float, alpha: float = 0.5) -> np.ndarray:
    """uint8 (H, W, 3): the gray ``image`` with ``error / vmax`` (clipped to [0, 1]) in the jet map,
    blended in proportion to the error so that well-reconstructed regions stay plain."""
    heat = colormaps["jet"](np.clip(error / vmax, 0, 1))[..., :3] * 255
    weight = alpha * np.clip(error / vmax, 0, 1)[..., None]
    gray = np.repeat(image[..., None].astype(np.float32), 3, axis=2)
    return np.round((1 - weight) * gray + weight * heat).astype(np.uint8)


def upsample(error: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``error`` (h, w) float resized bilinearly to ``shape`` (H, W)."""
    if error.shape == tuple(shape):
        return error.astype(np.float32)
    image = Image.fromarray(error.astype(np.float32), mode="F")
    return np.asarray(image.resize((shape[1], shape[0]), Image.BILINEAR), dtype=np.float32)


def _font(height: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=max(9, height // 18))


def annotate(rgb: np.ndarray, vmax: float, text: str) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 with a jet colour bar (0 at the bottom, ``vmax`` at the top) at the right
    edge and ``text`` in the top-left corner, both on dark boxes so they read on any frame."""
    height, width = rgb.shape[:2]
    picture = Image.fromarray(rgb)
    draw = ImageDraw.Draw(picture)
    font = _font(height)
    bar_w, margin = max(4, width // 40), max(2, height // 40)
    top, bottom = margin + font.size + 2, height - margin - font.size - 2
    if bottom - top >= 8:
        left = width - margin - bar_w
        ramp = colormaps["jet"](np.linspace(1, 0, bottom - top))[:, :3] * 255
        picture.paste(Image.fromarray(np.repeat(ramp[:, None].astype(np.uint8), bar_w, axis=1)), (left, top))
        for value, y in ((f"{vmax:g}", top - font.size - 1), ("0", bottom + 1)):
            x = width - margin - draw.textlength(value, font=font)
            draw.rectangle((x - 1, y, width - margin, y + font.size), fill=(0, 0, 0))
            draw.text((x, y), value, fill=(255, 255, 255), font=font)
    box = draw.textbbox((margin, margin), text, font=font)
    draw.rectangle((box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2), fill=(0, 0, 0))
    draw.text((margin, margin), text, fill=(255, 255, 255), font=font)
    return np.asarray(picture)


def overlay_frame(original: np.ndarray, error: np.ndarray, vmax: float, text: str) -> np.ndarray:
    """The overlay of one frame at the input's size: ``original`` uint8 (H, W) gray, ``error`` (h, w) the
    squared error map at the model's size (:func:`lnta.metrics.protocol.error_map`), shown as its square
    root (absolute error, [-1, 1] units; ``vmax`` in the same units) and upsampled, the colour bar and
    ``text``. Returns uint8 (H, W, 3)."""
    absolute = np.sqrt(np.maximum(error, 0))
    return annotate(heatmap_overlay(original, upsample(absolute, original.shape[:2]), vmax), vmax, text)


class KeepFrames:
    """Passes a frame iterator through and keeps its last ``keep`` frames by index, so that the
    original (input-size) frame of a result that arrives a few frames later can be drawn."""

    def __init__(self, frames: Iterable[np.ndarray], keep: int):
        self.frames, self.keep = frames, keep
        self.kept: OrderedDict[int, np.ndarray] = OrderedDict()

    def __iter__(self) -> Iterator[np.ndarray]:
        for index, frame in enumerate(self.frames):
            self.kept[index] = frame
            while len(self.kept) > self.keep:
                self.kept.popitem(last=False)
            yield frame

    def __getitem__(self, index: int) -> np.ndarray:
        return self.kept[index]


class OverlayWriter:
    """Writes overlays of one video as ``<dir>/<name>/<frame>.png`` or ``<dir>/<name>.mp4``."""

    def __init__(self, directory: Path, name: str, kind: str, fps: float | None, vmax: float):
        if kind not in OVERLAY_KINDS:
            raise ConfigError(f"overlay={kind}: expected one of {', '.join(OVERLAY_KINDS)} or null")
        self.kind, self.vmax, self.fps = kind, vmax, fps or 25.0
        self.path = Path(directory) / (f"{name}.mp4" if kind == "video" else name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = self._stream = None
        if kind == "frames":
            self.path.mkdir(exist_ok=True)

    def write(self, frame: int, image: np.ndarray, error: np.ndarray, score: str = "") -> None:
        """Write frame ``frame``: ``image`` the input frame (uint8 (H, W), any size), ``error`` the model's
        squared error map (:func:`lnta.metrics.protocol.error_map`), ``score`` the text after the frame index (e.g. ``score 2.31 flagged``)."""
        rgb = overlay_frame(image, error, self.vmax, f"frame {frame}" + (f"  {score}" if score else ""))
        if self.kind == "frames":
            Image.fromarray(rgb).save(self.path / f"{frame:06d}.png")
            return
        if self._container is None:
            self._container = av.open(str(self.path), mode="w")
            self._stream = self._container.add_stream("libx264", rate=round(self.fps))
            self._stream.width, self._stream.height = rgb.shape[1] // 2 * 2, rgb.shape[0] // 2 * 2
            self._stream.pix_fmt = "yuv420p"
        rgb = np.ascontiguousarray(rgb[:self._stream.height, :self._stream.width])
        self._container.mux(self._stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))

    def close(self) -> None:
        if self._container is not None:
            self._container.mux(self._stream.encode())
            self._container.close()
