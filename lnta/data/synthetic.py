"""The embedded default dataset: a small surveillance-like scene generated from a seed.

One static camera over a textured background with a walkway; pedestrians walk across it at normal
speeds (training videos: only that). Test videos add one kind of anomaly each, alternating: *carts*
(an unfamiliar shape at walking speed) and *runners* (pedestrians moving 3-4x too fast). Written in
the common frames layout (``training/frames/NN/NNN.jpg``, ``testing/frames/...``) with a frame-label
``.npy``, so it goes through exactly the same code path as a real dataset.

Why these anomalies (the design follows the paper's mechanism and was fixed before any measurement;
README, "The demo"). The paper's claim (Astrid et al., BMVC 2021, Sec. 1 and Fig. 1a): an AE trained
on normal video generalises so well that it reconstructs anomalies too, and pseudo anomalies during
training teach it not to. A demo can only show that effect where the test anomalies are ones a plain
AE *does* reconstruct; anomalies a plain AE already fails on leave nothing for the method to fix (the
first version's bright vehicle with black wheels was such a high-contrast novel pattern). So:

- Normal content is varied -- walkers of random shade (25-70), size (x0.85-1.15), direction, speed
  (0.4-1.0 px/frame) and gait phase -- so that a plain AE learns a general "move flat dark shapes over
  this background" mapping: the regime in which it generalises beyond its training set.
- Runners (what skip-frame imitates): a walker -- same sprite, shade, size, gait -- whose clock runs
  k = 3 or 4 times fast, i.e. each frame it advances k frames of a normal walk (position and gait
  phase). That is exactly what skip-frame with s = k does to a normal walker, the method's own model
  of abnormal motion. Normal appearance, abnormal speed only; k * 0.4 >= 1.2 > 1.0, so every runner is
  faster than every walker.
- Carts (what patch imitates): built from the normal content's texture -- a flat-filled ellipse in the
  pedestrians' shade range -- with a new shape (wider than tall: half-axes 5 x 2.5 px vs a walker's
  1.6 x 4.2), moving at walking speed without gait. Flat and low-frequency, with no texture or
  contrast beyond what walkers have, so a plain AE can reconstruct it; patch pseudo anomalies (a window
  of a foreign image pasted into normal frames, loss target the normal frame) are the paper's proxy
  for such intruders.
- No confound: an intruder takes the place of a walker -- walkers and intruders together never exceed
  the normal maximum of 5 objects -- so an anomalous frame has no more moving content than a normal
  one.
- Labels are exact: a frame is anomalous iff at least one pixel of an intruder is drawn in it.
- Masks are exact (version 3): ``testing/pixel_gt_masks.npz`` holds every intruder pixel and
  ``testing/region_masks.npz`` every object pixel by kind (0 background, 1 walker, 2 intruder), for the
  pixel-level AUC and the mechanism measure (:mod:`lnta.metrics.mechanism`). The frames and labels are
  those of version 2.

Measured at the demo's budget (README, "The demo"): the AE under-fits -- it reconstructs none of the
moving objects, walkers included -- so the regime above is not reached and the effect does not show.

Geometry is in pixels of the written frame (``size``; the default 64 is the scale it was designed at).
Changing any rule here must bump :data:`GENERATOR_VERSION`, which is part of the cache fingerprint
(``synthetic.json`` in the root), so an older dataset on disk is regenerated.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lnta.data.datamodule import VideoDataModule
from lnta.data.io.cache import remove_stale_builds
from lnta.data.labels.formats import ANOMALY, FOREGROUND, PIXEL_MASK_FILE, REGION_FILE
from lnta.errors import ConfigError, DataError

log = logging.getLogger(__name__)

MARKER = "synthetic.json"   # written last into a folder lnta generated: only such a folder is ever replaced
#: Version of the generator's rules; part of the fingerprint in ``synthetic.json``. 1: the first
#: version (vehicles and fast walkers added on top of the walkers); 2: carts and runners (this module);
#: 3: version 2's frames and labels plus the exact pixel and region masks of the test videos.
GENERATOR_VERSION = 3

NORMAL_SPEED = (0.4, 1.0)       # walkers' horizontal speed, px/frame
RUNNER_RATES = (3, 4)           # a runner's clock runs this many times fast (skip-frame's s)
GAIT_RATE = 0.6                 # gait phase advance per step of an object's clock, radians
SHADES = (25.0, 70.0)           # grey level of walkers and carts (walkers' heads +25)
SIZES = (0.85, 1.15)            # size factor of walkers and carts
MAX_OBJECTS = 5                 # walkers + intruders in view, in every video
SPAWN_P = 0.04                  # chance per frame that a walker enters (while below MAX_OBJECTS)
INTRUDERS = {"cart": 1, "runner": 3}   # intruders per anomalous test video, by kind
INTRUDER_GAP = 28               # at least this many frames between two intruders' entries
TEST_KINDS = ("cart", "runner")  # test video v has kind TEST_KINDS[v % 2]
WALKER, INTRUDER = FOREGROUND, ANOMALY   # their codes in the region maps


@dataclass(frozen=True)
class SyntheticSpec:
    seed: int = 0
    size: int = 64
    train_videos: int = 8
    test_videos: int = 6
    frames_per_video: int = 160


def fingerprint(spec: SyntheticSpec) -> dict:
    """What ``synthetic.json`` holds: the spec and :data:`GENERATOR_VERSION`; any difference regenerates."""
    return {**asdict(spec), "generator": GENERATOR_VERSION}


class _Scene:
    """Renders frames of one camera: fixed background, moving objects (dicts, see :meth:`new_object`)."""

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

    def mask(self, obj) -> list[tuple[np.ndarray, float]]:
        """The object's pixels as (boolean mask, grey level) pairs, in drawing order."""
        x, y, k = obj["x"], obj["y"], obj["scale"]
        if obj["kind"] == "cart":
            return [(self.ellipse(x, y, 5.0 * k, 2.5 * k), obj["shade"])]
        stride = 1.0 + 0.35 * np.sin(obj["phase"])
        return [(self.ellipse(x, y, 1.6 * k * stride, 4.2 * k), obj["shade"]),          # body and legs
                (self.ellipse(x, y - 5.6 * k, 1.6 * k, 1.6 * k), obj["shade"] + 25)]    # head

    def draw(self, frame, regions, obj) -> bool:
        """Draw ``obj`` into ``frame`` and its kind into ``regions``; returns whether any of its pixels is in the frame."""
        drawn = False
        for mask, shade in self.mask(obj):
            frame[mask] = shade
            regions[mask] = WALKER if obj["kind"] == "walker" else INTRUDER
            drawn |= bool(mask.any())
        return drawn

    def render(self, objects: list[dict]) -> tuple[np.ndarray, bool, np.ndarray]:
        """One uint8 (size, size) frame: background, sensor noise (std 2 grey levels), walkers, then the
        intruders on top (never hidden); its label: whether any intruder pixel was drawn; and its uint8
        region map (0 background, :data:`WALKER`, :data:`INTRUDER`)."""
        frame = self.background + self.rng.normal(0, 2.0, self.background.shape)
        regions = np.zeros(self.background.shape, np.uint8)
        anomalous = False
        for obj in sorted(objects, key=lambda o: o["kind"] != "walker"):
            anomalous |= self.draw(frame, regions, obj) and obj["kind"] != "walker"
        return np.clip(frame, 0, 255).astype(np.uint8), anomalous, regions

    def new_object(self, kind: str = "walker", inside: bool = False) -> dict:
        """A walker, runner or cart: entering at an edge (or, ``inside``, anywhere on the walkway)."""
        low, high = self.walk_band
        direction = self.rng.choice([-1.0, 1.0])
        scale = self.rng.uniform(*SIZES)
        half_width = (5.0 if kind == "cart" else 2.2) * scale + 1
        x = self.rng.uniform(4, self.size - 4) if inside else (-half_width if direction > 0 else self.size + half_width)
        return {"kind": kind, "x": x, "y": self.rng.uniform(low, high), "scale": scale,
                "vx": direction * self.rng.uniform(*NORMAL_SPEED), "vy": self.rng.uniform(-0.08, 0.08),
                "shade": self.rng.uniform(*SHADES), "phase": self.rng.uniform(0, 2 * np.pi),
                "rate": int(self.rng.choice(RUNNER_RATES)) if kind == "runner" else 1}

    def in_play(self, obj, margin=8) -> bool:
        return -margin - 5 * obj["scale"] < obj["x"] < self.size + margin + 5 * obj["scale"]

    def step(self, obj):
        """Advance ``obj`` by ``rate`` steps of a normal walk: position and gait phase."""
        obj["x"] += obj["rate"] * obj["vx"]
        obj["y"] = float(np.clip(obj["y"] + obj["rate"] * obj["vy"], *self.walk_band))
        obj["phase"] += obj["rate"] * GAIT_RATE


def _render_video(scene: _Scene, n: int, anomaly: str | None, rng: np.random.Generator):
    """``n`` uint8 frames, their 0/1 labels and their (n, size, size) region maps; ``anomaly`` None
    (normal), 'cart' or 'runner'."""
    objects = [scene.new_object(inside=True) for _ in range(rng.integers(2, 4))]
    start = int(rng.integers(n // 4, n // 2)) if anomaly else n + 1
    entered, last_entry = 0, -INTRUDER_GAP
    frames, labels, regions = [], np.zeros(n, np.uint8), []
    for t in range(n):
        due = anomaly is not None and t >= start and entered < INTRUDERS[anomaly] and t - last_entry >= INTRUDER_GAP
        if due and len(objects) < MAX_OBJECTS:
            objects.append(scene.new_object(anomaly))
            entered, last_entry, due = entered + 1, t, False
        if not due and rng.random() < SPAWN_P and len(objects) < MAX_OBJECTS:
            objects.append(scene.new_object())
        frame, labels[t], region = scene.render(objects)
        frames.append(frame)
        regions.append(region)
        for obj in objects:
            scene.step(obj)
        objects = [o for o in objects if scene.in_play(o)]
    return frames, labels, np.stack(regions)


def _write_video(folder: Path, frames) -> None:
    folder.mkdir(parents=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{i:03d}.jpg", quality=95)


#: Upper bound of the whole dataset, in pixels written (videos x frames x size^2): 256 MiB of raw
#: uint8 frames, 29x the default (9.2M) and enough for 22 videos of 160 frames at 256x256. A stored
#: config (a checkpoint) must not be able to fill a disk.
MAX_PIXELS = 2**28
#: The range of each size of :class:`SyntheticSpec`, by its key under ``data``.
SPEC_RANGES = {"seed": (0, 2**32 - 1), "size": (8, 4096), "train_videos": (1, 10_000), "test_videos": (1, 10_000),
               "frames_per_video": (1, 100_000)}


def check_spec(spec: SyntheticSpec) -> None:
    """Every size of ``spec`` in its range (:data:`SPEC_RANGES`) and the whole dataset within
    :data:`MAX_PIXELS`, whatever the values' source (command line or a checkpoint's stored config);
    raises a one-line :class:`ConfigError` naming the key."""
    from lnta.validate import Range  # noqa: PLC0415 - lnta.validate imports lnta.data

    for key, (low, high) in SPEC_RANGES.items():
        Range(low=low, high=high)(f"data.{key}", getattr(spec, key))
    frames = (spec.train_videos + spec.test_videos) * spec.frames_per_video
    if frames * spec.size ** 2 > MAX_PIXELS:
        raise ConfigError(f"data.train_videos={spec.train_videos}, data.test_videos={spec.test_videos}, "
                          f"data.frames_per_video={spec.frames_per_video}, data.size={spec.size}: the synthetic "
                          f"dataset would hold {frames} frames of {spec.size}x{spec.size} pixels; expected at most "
                          f"{MAX_PIXELS} pixels in all (the default is 2240 frames of 64x64)")


def _marker_of(root: Path) -> dict | None:
    """The fingerprint in ``root``'s :data:`MARKER` if lnta generated ``root`` (a JSON object with
    a ``generator`` key, or version 1's spec without it), else None."""
    try:
        found = json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and "seed" in found and "size" in found else None


def _check_replaceable(root: Path) -> None:
    """Refuse a ``root`` that lnta may not replace: a file, or a folder holding anything but not
    the generator's marker. lnta deletes only what it created and marked as its own."""
    if root.is_symlink() or root.exists() and not root.is_dir():
        raise DataError(f"data.root={root}: not a folder; the synthetic data needs a new or empty folder")
    if root.is_dir() and _marker_of(root) is None and any(root.iterdir()):
        raise DataError(f"data.root={root}: holds files but no {MARKER}, so it is not a synthetic dataset lnta "
                        "generated; nothing was changed. For your own data choose its group (data=ped2, ...); "
                        "for the synthetic data a new or empty data.root")


def generate(root: Path, spec: SyntheticSpec) -> Path:
    """Write the dataset under ``root`` unless an identical one is already there; return ``root``.

    ``root`` is replaced only where lnta generated it (:func:`_check_replaceable`); the dataset is built in
    ``.<name>.tmp-<host>-<pid>`` beside it, which a later call removes if that process was killed.
    """
    root = Path(root)
    if _marker_of(root) == fingerprint(spec):
        return root
    check_spec(spec)
    _check_replaceable(root)
    log.info("generating the synthetic dataset (seed %d) in %s", spec.seed, root)
    root.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_builds(root)
    tmp = root.with_name(f".{root.name}.tmp-{socket.gethostname()}-{os.getpid()}")  # unique: parallel jobs race
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        _write_dataset(tmp, spec)
        if _marker_of(root) == fingerprint(spec):  # another process finished first
            return root
        _check_replaceable(root)  # again: the folder may have been filled meanwhile
        if root.is_dir() and _marker_of(root) is not None:  # an older synthetic dataset: ours to replace
            shutil.rmtree(root)
        elif root.is_dir():
            root.rmdir()  # empty (checked above); fails rather than delete anything put there since
        try:
            os.replace(tmp, root)
        except OSError:
            if _marker_of(root) != fingerprint(spec):  # not a parallel job that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _write_dataset(tmp: Path, spec: SyntheticSpec) -> None:
    rng = np.random.default_rng(spec.seed)
    scene = _Scene(spec.size, rng)
    for v in range(spec.train_videos):
        frames, _, _ = _render_video(scene, spec.frames_per_video, None, rng)
        _write_video(tmp / "training" / "frames" / f"{v + 1:02d}", frames)
    all_labels, regions = [], {}
    for v in range(spec.test_videos):
        frames, labels, regions[f"{v + 1:02d}"] = _render_video(scene, spec.frames_per_video, TEST_KINDS[v % 2], rng)
        _write_video(tmp / "testing" / "frames" / f"{v + 1:02d}", frames)
        all_labels.append(labels)
    np.save(tmp / "frame_labels_synthetic.npy", np.concatenate(all_labels)[None])
    np.savez_compressed(tmp / PIXEL_MASK_FILE, **{name: r == INTRUDER for name, r in regions.items()})
    np.savez_compressed(tmp / REGION_FILE, **regions)
    (tmp / MARKER).write_text(json.dumps(fingerprint(spec)))


class SyntheticDataModule(VideoDataModule):
    """:class:`VideoDataModule` over the generated dataset, generated on first use and cached."""

    def __init__(self, root: str, seed: int = 0, size: int = 64, train_videos: int = 8,
                 test_videos: int = 6, frames_per_video: int = 160, **kwargs):
        self.spec = SyntheticSpec(seed, size, train_videos, test_videos, frames_per_video)
        check_spec(self.spec)  # before anything is built: a stored config is checked like the command line
        super().__init__(root=root, **kwargs)

    def prepare_data(self) -> None:
        # Lightning calls this on one process per node before setup: DDP ranks never race to generate.
        generate(self.root, self.spec)

    def check_root(self) -> None:
        generate(self.root, self.spec)
