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


#: PIL modes of 8-bit channels that ``convert('L')`` turns into luma exactly
EIGHT_BIT_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr")
#: PIL modes of integer samples read as 16-bit data: 16-bit PNG and TIFF (I;16, I;16B, ...), and
#: "I" (32-bit int; what older Pillow versions give for 16-bit PNGs), whose values must lie in 0..65535
SIXTEEN_BIT_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")


def to_uint8(samples: np.ndarray, path: Path, mode: str) -> np.ndarray:
    """16-bit samples (any integer dtype, values 0..65535) to uint8 by the bit depth: ``round(x / 257)``.

    This is the exact inverse of the usual 8-to-16-bit expansion ``x * 257``, maps 0 to 0 and 65535
    to 255, and keeps the full 16-bit range (not the file's own range, which would differ per frame).
    Values outside 0..65535 raise :class:`DataError` naming the file and mode.
    """
    low, high = int(samples.min(initial=0)), int(samples.max(initial=0))
    if low < 0 or high > 65535:
        raise DataError(f"{path}: image mode {mode} has values {low}..{high}, outside the 16-bit range "
                        "0..65535; convert the frames to 8- or 16-bit greyscale")
    return ((samples.astype(np.uint32) * 2 + 257) // 514).astype(np.uint8)  # round half up of x / 257


def read_gray(path: Path) -> np.ndarray:
    """One image file as uint8 (H, W) luma.

    8-bit images (:data:`EIGHT_BIT_MODES`, e.g. JPEG, 8-bit PNG/TIFF/BMP, palette, RGB) give ITU-R 601
    luma, PIL's ``convert('L')``. 16-bit greyscale (:data:`SIXTEEN_BIT_MODES`: 16-bit PNG/TIFF, of
    scientific and thermal cameras) is scaled by its bit depth, ``round(x / 257)`` (:func:`to_uint8`),
    not clamped. Other modes (e.g. float ``F``, ``LAB``) raise :class:`DataError` naming the file and
    its mode, as do unreadable files.
    """
    try:
        with Image.open(path) as image:
            if image.mode in EIGHT_BIT_MODES:
                return np.asarray(image.convert("L"))
            if image.mode in SIXTEEN_BIT_MODES:
                return to_uint8(np.asarray(image), path, image.mode)
            mode = image.mode
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: unreadable or corrupt image ({exc.__class__.__name__}: {exc})") from None
    raise DataError(f"{path}: image mode {mode} cannot be read as greyscale frames (expected 8-bit "
                    "greyscale/colour or 16-bit greyscale); convert the frames, e.g. to 8-bit PNG")


def check_frame_sizes(video_dir: Path) -> tuple[int, int]:
    """Every frame file of a video folder has the same size, read from the image headers (no
    decoding); returns (H, W). A different size raises :class:`DataError` naming the file."""
    files = list_frames(video_dir)
    first = None
    for path in files:
        try:
            with Image.open(path) as image:
                size = image.size[::-1]
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
            raise DataError(f"{path}: unreadable or corrupt image ({exc.__class__.__name__}: {exc})") from None
        if first is None:
            first = size
        elif size != first:
            raise DataError(f"{path}: frame of {size[0]}x{size[1]} (HxW) but {files[0].name} of the same video is "
                            f"{first[0]}x{first[1]}; every frame of a video must have one size")
    if first is None:
        raise DataError(f"{video_dir}: no frame images found")
    return first


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) RGB to uint8 (...) luma, bit-exact with PIL's ``convert('L')``."""
    r, g, b = (rgb[..., c].astype(np.uint32) for c in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)
