"""Small stand-ins for the real releases, written in their exact layouts, file formats and keys.

Every frame encodes where it comes from (:func:`index_frame`): the top half is the frame index
mod 256, the bottom-left quarter the index // 256 and the bottom-right quarter the video number,
in flat 8-aligned blocks, so even JPEG frames decode back exactly and a test can assert which
frames came back. Test video ``v`` (0-based) is anomalous on frames ``[L // 3, 2 L // 3)``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.io
from PIL import Image

from lnta.data.io.video import write_video
from lnta.data.sampling import runs

SIZE = (32, 64)  # (H, W): 16-multiples keep JPEG blocks flat; decord misreads widths such as 48 or 72


def index_frame(index: int, video: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    """The uint8 (H, W) frame number ``index`` of video number ``video``."""
    height, width = size
    frame = np.empty(size, np.uint8)
    frame[: height // 2] = index % 256
    frame[height // 2:, : width // 2] = index // 256
    frame[height // 2:, width // 2:] = video
    return frame


def decode_index(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(frame indices, video numbers)`` read back from (T, H, W) frames made by :func:`index_frame`."""
    height, width = frames.shape[1:]
    top = np.rint(frames[:, : height // 2].mean((1, 2))).astype(np.int64)
    high = np.rint(frames[:, height // 2:, : width // 2].mean((1, 2))).astype(np.int64)
    video = np.rint(frames[:, height // 2:, width // 2:].mean((1, 2))).astype(np.int64)
    return high * 256 + top, video


def video_frames(length: int, video: int, size=SIZE) -> np.ndarray:
    return np.stack([index_frame(i, video, size) for i in range(length)])


def anomaly_labels(length: int) -> np.ndarray:
    labels = np.zeros(length, np.uint8)
    labels[length // 3: 2 * length // 3] = 1
    return labels


def _intervals(labels: np.ndarray) -> np.ndarray:
    """1-based inclusive [start; end] columns of the runs of 1s."""
    return (runs(labels) + [1, 0]).T.astype(np.float64)


def _write_images(folder: Path, frames: np.ndarray, pattern: str, first: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / pattern.format(i + first), quality=100)


def _mask(label: int, size=SIZE) -> np.ndarray:
    mask = np.zeros(size, np.uint8)
    if label:
        mask[4:12, 8:20] = 1
    return mask


def _cell(arrays) -> np.ndarray:
    cell = np.empty((1, len(arrays)), dtype=object)
    for i, a in enumerate(arrays):
        cell[0, i] = a
    return cell


def write_interval_mat(path: Path, labels: Sequence[np.ndarray]) -> None:
    """``ped2.mat`` / ``avenue.mat``: ``gt``, a 1xV cell of 2xK 1-based inclusive intervals."""
    scipy.io.savemat(str(path), {"gt": _cell([_intervals(y) for y in labels])})


def ucsd_release(root: Path, train: Sequence[int], test: Sequence[int], ped: int = 2) -> list[np.ndarray]:
    """``UCSDped2/{Train,Test}/TrainNNN/NNN.tif``, ``TestNNN_gt/NNN.bmp``, ``Test/UCSDped2.m``, macOS
    ``._*`` files; returns the per-video test labels. ``ped=1`` writes ``UCSDped1`` (both may share a root,
    as in the release)."""
    base = Path(root) / f"UCSDped{ped}"
    for v, length in enumerate(train):
        _write_images(base / "Train" / f"Train{v + 1:03d}", video_frames(length, v + 1), "{:03d}.tif", 1)
    labels, lines = [], ["TestVideoFile = {};"]
    for v, length in enumerate(test):
        folder = base / "Test" / f"Test{v + 1:03d}"
        _write_images(folder, video_frames(length, v + 1), "{:03d}.tif", 1)
        (folder / "._001.tif").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
        y = anomaly_labels(length)
        masks = np.stack([_mask(t) * 255 for t in y])
        _write_images(base / "Test" / f"Test{v + 1:03d}_gt", masks, "{:03d}.bmp", 1)
        start, end = _intervals(y)[:, 0].astype(int)
        lines.append(f"TestVideoFile{{end+1}}.gt_frame = [{start}:{end}];")
        labels.append(y)
    (base / "Test" / f"UCSDped{ped}.m").write_text("\n".join(lines) + "\n")
    return labels


def avenue_release(root: Path, train: Sequence[int], test: Sequence[int]) -> dict[str, list[np.ndarray]]:
    """``training_videos/01.avi``, ``testing_videos/01.avi`` (lossless), ``avenue.mat`` intervals and
    ``ground_truth_demo/testing_label_mask/{N}_label.mat`` (``volLabel`` cell, N not zero-padded).

    As in the real release the two disagree: the masks miss the first anomalous frame of each video.
    Returns ``{"intervals": [...], "masks": [...]}`` per-video labels."""
    root = Path(root)
    for split, lengths in (("training_videos", train), ("testing_videos", test)):
        (root / split).mkdir(parents=True, exist_ok=True)
        for v, length in enumerate(lengths):
            write_video(root / split / f"{v + 1:02d}.avi", video_frames(length, v + 1))
    masks_dir = root / "ground_truth_demo" / "testing_label_mask"
    masks_dir.mkdir(parents=True, exist_ok=True)
    intervals, masks = [], []
    for v, length in enumerate(test):
        y = anomaly_labels(length)
        m = y.copy()
        m[np.argmax(y)] = 0
        scipy.io.savemat(str(masks_dir / f"{v + 1}_label.mat"), {"volLabel": _cell([_mask(t) for t in m])})
        intervals.append(y)
        masks.append(m)
    write_interval_mat(root / "avenue.mat", intervals)
    return {"intervals": intervals, "masks": masks}


def shanghaitech_release(root: Path, train: Sequence[int], test: dict[str, int]) -> list[np.ndarray]:
    """``training/videos/01_001.avi``, ``testing/frames/<scene>_<clip>/000.jpg`` and
    ``testing/test_frame_mask/<scene>_<clip>.npy``; ``test`` maps video names to lengths."""
    root = Path(root)
    (root / "training" / "videos").mkdir(parents=True, exist_ok=True)
    for v, length in enumerate(train):
        write_video(root / "training" / "videos" / f"01_{v + 1:03d}.avi", video_frames(length, v + 1))
    (root / "testing" / "test_frame_mask").mkdir(parents=True, exist_ok=True)
    labels = []
    for v, (name, length) in enumerate(sorted(test.items())):
        _write_images(root / "testing" / "frames" / name, video_frames(length, v + 1), "{:03d}.jpg")
        y = anomaly_labels(length)
        np.save(root / "testing" / "test_frame_mask" / f"{name}.npy", y)
        labels.append(y)
    return labels


def frames_layout(root: Path, name: str, train: Sequence[int], test: Sequence[int]) -> list[np.ndarray]:
    """The common frames layout: ``training/frames/01/000.jpg`` and ``frame_labels_<name>.npy`` (1, N);
    an empty ``test`` writes training footage only."""
    root = Path(root)
    for split, lengths in (("training", train), ("testing", test)):
        for v, length in enumerate(lengths):
            _write_images(root / split / "frames" / f"{v + 1:02d}", video_frames(length, v + 1), "{:03d}.jpg")
    labels = [anomaly_labels(n) for n in test]
    if labels:  # no test videos: training footage only, no label file
        np.save(root / f"frame_labels_{name}.npy", np.concatenate(labels)[None])
    return labels


def write_mp4(path: Path, frames: np.ndarray, fps: int = 25) -> None:
    """uint8 (N, H, W) grey frames as a camera would save them: H.264 (or MPEG-4 part 2 where this FFmpeg
    has no H.264 encoder) in an ``.mp4``, yuv420p, lossy. H and W must be even."""
    import av

    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            rgb = np.repeat(np.asarray(frame, np.uint8)[..., None], 3, axis=2)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())


def own_footage(root: Path, lengths: Sequence[int], size=(32, 32), kind: str = "mp4", first: int = 1) -> list[Path]:
    """A user's folder of normal videos ``cam<first>, cam<first+1>, ...`` (``data=folder``): ``.mp4`` files
    (:func:`write_mp4`) or frame folders of PNGs (``kind="frames"``), of frames :func:`index_frame`."""
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for v, length in enumerate(lengths, start=first):
        frames = video_frames(length, v, size)
        if kind == "mp4":
            write_mp4(root / f"cam{v}.mp4", frames)
            paths.append(root / f"cam{v}.mp4")
        else:
            _write_images(root / f"cam{v}", frames, "{:04d}.png")
            paths.append(root / f"cam{v}")
    return paths
