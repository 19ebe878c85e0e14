"""Reconstruction-error heatmaps blended onto the scored frames, written as PNGs or a video."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from matplotlib import colormaps
from PIL import Image

from lnta.errors import ConfigError

OVERLAY_KINDS = ("frames", "video")


def heatmap_overlay(image: np.ndarray, error: np.ndarray, vmax: float, alpha: float = 0.5) -> np.ndarray:
    """uint8 (H, W, 3): the gray ``image`` with ``error / vmax`` (clipped to [0, 1]) in the jet map,
    blended in proportion to the error so that well-reconstructed regions stay plain."""
    heat = colormaps["jet"](np.clip(error / vmax, 0, 1))[..., :3] * 255
    weight = alpha * np.clip(error / vmax, 0, 1)[..., None]
    gray = np.repeat(image[..., None].astype(np.float32), 3, axis=2)
    return np.round((1 - weight) * gray + weight * heat).astype(np.uint8)


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

    def write(self, frame: int, image: np.ndarray, error: np.ndarray) -> None:
        rgb = heatmap_overlay(image, error, self.vmax)
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
