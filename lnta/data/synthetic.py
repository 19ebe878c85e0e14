"""The embedded default dataset: a small surveillance-like scene generated from a seed.

A static textured background with a walkway, pedestrians walking across it at normal speeds,
and test videos with appearance anomalies (a vehicle at walking speed) and motion anomalies
(pedestrians running at 3-4x normal speed). Written in the common frames layout with a
frame-label ``.npy``, so it goes through exactly the same code path as a real dataset.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lnta.data.datamodule import VideoDataModule

log = logging.getLogger(__name__)

_MARKER = "synthetic.json"


@dataclass(frozen=True)
class SyntheticSpec:
    seed: int = 0
    size: int = 64
    train_videos: int = 8
    test_videos: int = 6
    frames_per_video: int = 160


class _Scene:
    """Renders frames of one camera: fixed background, moving sprites."""

    def __init__(self, size: int, rng: np.random.Generator):
        self.size, self.rng = size, rng
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        self.yy, self.xx = yy, xx
        noise = rng.normal(0, 1, (size // 4 + 1, size // 4 + 1)).astype(np.float32)
        coarse = np.kron(noise, np.ones((4, 4), np.float32))[:size, :size]
        fine = rng.normal(0, 6, (size, size)).astype(np.float32)
        walkway = (np.abs(yy - size * 0.55) < size * 0.22).astype(np.float32)
        tiles = 8 * ((np.floor(xx / 8) + np.floor(yy / 8)) % 2)
        self.background = 95 + 18 * coarse + fine + 45 * walkway + tiles * walkway
        self.walk_band = (size * 0.38, size * 0.72)

    def ellipse(self, cx, cy, rx, ry):
        return ((self.xx - cx) / rx) ** 2 + ((self.yy - cy) / ry) ** 2 <= 1.0

    def draw_person(self, frame, x, y, t, shade):
        stride = 1.0 + 0.35 * np.sin(t * 0.6 + x)
        frame[self.ellipse(x, y, 1.6 * stride, 4.2)] = shade          # body and legs
        frame[self.ellipse(x, y - 5.6, 1.6, 1.6)] = shade + 25       # head

    def draw_vehicle(self, frame, x, y):
        box = (np.abs(self.xx - x) <= 6) & (np.abs(self.yy - y) <= 3)
        frame[box] = 225
        for wx in (x - 4, x + 4):
            frame[self.ellipse(wx, y + 3.5, 1.6, 1.6)] = 20

    def new_walker(self, speed_range, inside=False):
        low, high = self.walk_band
        direction = self.rng.choice([-1.0, 1.0])
        x = self.rng.uniform(4, self.size - 4) if inside else (-4.0 if direction > 0 else self.size + 4.0)
        return {"x": x, "y": self.rng.uniform(low, high), "vx": direction * self.rng.uniform(*speed_range),
                "vy": self.rng.uniform(-0.08, 0.08), "shade": self.rng.uniform(25, 70)}

    def visible(self, obj, margin=7):
        return -margin < obj["x"] < self.size + margin

    def step(self, obj):
        obj["x"] += obj["vx"]
        obj["y"] = float(np.clip(obj["y"] + obj["vy"], *self.walk_band))


NORMAL_SPEED = (0.4, 1.0)
FAST_SPEED = (2.6, 3.6)


def _render_video(scene: _Scene, n: int, anomaly: str | None, rng: np.random.Generator):
    walkers = [scene.new_walker(NORMAL_SPEED, inside=True) for _ in range(rng.integers(2, 4))]
    start = int(rng.integers(n // 4, n // 2)) if anomaly else n + 1
    intruders: list[dict] = []
    frames, labels = [], np.zeros(n, np.uint8)
    for t in range(n):
        if anomaly and t >= start and t % 28 == start % 28 and len(intruders) < (1 if anomaly == "vehicle" else 3):
            speed = NORMAL_SPEED if anomaly == "vehicle" else FAST_SPEED
            intruders.append(scene.new_walker(speed))
        if rng.random() < 0.04 and len(walkers) < 5:
            walkers.append(scene.new_walker(NORMAL_SPEED))
        frame = scene.background + rng.normal(0, 2.0, scene.background.shape)
        for w in walkers:
            scene.draw_person(frame, w["x"], w["y"], t, w["shade"])
        for obj in intruders:
            if scene.visible(obj):
                labels[t] = 1
                if anomaly == "vehicle":
                    scene.draw_vehicle(frame, obj["x"], obj["y"])
                else:
                    scene.draw_person(frame, obj["x"], obj["y"], t * 3, obj["shade"])
        for obj in walkers + intruders:
            scene.step(obj)
        walkers = [w for w in walkers if scene.visible(w, margin=8)]
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames, labels


def _write_video(folder: Path, frames) -> None:
    folder.mkdir(parents=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{i:03d}.jpg", quality=95)


def generate(root: Path, spec: SyntheticSpec) -> Path:
    """Write the dataset under ``root`` unless an identical one is already there; return ``root``."""
    root = Path(root)
    marker = root / _MARKER
    if marker.is_file() and json.loads(marker.read_text()) == asdict(spec):
        return root
    log.info("generating the synthetic dataset (seed %d) in %s", spec.seed, root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))  # unique: parallel jobs may race
    rng = np.random.default_rng(spec.seed)
    scene = _Scene(spec.size, rng)
    for v in range(spec.train_videos):
        frames, _ = _render_video(scene, spec.frames_per_video, None, rng)
        _write_video(tmp / "training" / "frames" / f"{v + 1:02d}", frames)
    kinds = ["vehicle", "fast"]
    all_labels = []
    for v in range(spec.test_videos):
        frames, labels = _render_video(scene, spec.frames_per_video, kinds[v % 2], rng)
        _write_video(tmp / "testing" / "frames" / f"{v + 1:02d}", frames)
        all_labels.append(labels)
    np.save(tmp / "frame_labels_synthetic.npy", np.concatenate(all_labels)[None])
    (tmp / _MARKER).write_text(json.dumps(asdict(spec)))
    if marker.is_file() and json.loads(marker.read_text()) == asdict(spec):  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
        return root
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return root


class SyntheticDataModule(VideoDataModule):
    """:class:`VideoDataModule` over the generated dataset, generated on first use and cached."""

    def __init__(self, root: str, seed: int = 0, size: int = 64, train_videos: int = 8,
                 test_videos: int = 6, frames_per_video: int = 160, **kwargs):
        super().__init__(root=root, **kwargs)
        self.spec = SyntheticSpec(seed, size, train_videos, test_videos, frames_per_video)

    def prepare_data(self) -> None:
        # Lightning calls this on one process per node before setup: DDP ranks never race to generate.
        generate(self.root, self.spec)

    def check_root(self) -> None:
        generate(self.root, self.spec)
