"""Reading frames from folders: numeric ordering, grayscale decoding, reference resizing."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from lnta.errors import DataError
from lnta.io import is_macos_metadata

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
_NUMBER = re.compile(r"(\d+)")


def frame_sort_key(path: Path):
    """Sort by the numbers in the file stem (``2.jpg`` before ``10.jpg``), then by name."""
    return [int(part) if part.isdigit() else part for part in _NUMBER.split(path.stem)], path.name


def list_frames(video_dir: Path) -> list[Path]:
    """Frame files of one video folder in numeric order; macOS metadata (``._*``) is ignored."""
    files = [p for p in Path(video_dir).iterdir()
             if p.suffix.lower() in FRAME_SUFFIXES and not is_macos_metadata(p.name)]
    return sorted(files, key=frame_sort_key)


def list_videos(split_dir: Path) -> list[Path]:
    """Video folders of a split in numeric order (``2`` before ``10``)."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise DataError(f"{split_dir}: folder not found (expected one sub-folder of frames per video)")
    videos = sorted((p for p in split_dir.iterdir()
                     if p.is_dir() and not p.name.startswith(".") and not is_macos_metadata(p.name)),
                    key=frame_sort_key)
    if not videos:
        raise DataError(f"{split_dir}: no video folders found (expected <video>/<n>.jpg)")
    return videos


def resize_gray(frames: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Bilinear resize of uint8 (N, H, W) frames to ``size`` without aspect preservation.

    ``align_corners=False`` without antialiasing is OpenCV's ``INTER_LINEAR``, which the
    reference uses; the result is rounded back to uint8.
    """
    height, width = (size, size) if isinstance(size, int) else size
    if frames.shape[1:] == (height, width):
        return frames
    x = torch.from_numpy(np.require(frames, requirements=["C", "W"])).float().unsqueeze(1)
    y = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
    return y.squeeze(1).round_().clamp_(0, 255).to(torch.uint8).numpy()


def read_gray(path: Path) -> np.ndarray:
    """One image file as uint8 (H, W) luma (ITU-R 601, PIL's ``convert('L')``)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"))
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: unreadable or corrupt image ({exc.__class__.__name__}: {exc})") from None


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) RGB to uint8 (...) luma, bit-exact with PIL's ``convert('L')``."""
    r, g, b = (rgb[..., c].astype(np.uint32) for c in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)
