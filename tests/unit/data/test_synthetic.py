"""The synthetic generator's rules, exactly: runners are skip-frame walkers, carts walk, labels mark
frames with an intruder pixel, the object count never exceeds the normal maximum, and the fingerprint."""
import json
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest

from lnta.data import SyntheticDataModule
from lnta.data import synthetic as syn
from lnta.data.synthetic import SyntheticSpec, generate
from lnta.errors import ConfigError, DataError


class _Recording(syn._Scene):
    """A scene that records, per rendered frame, a copy of the objects and the frame's label."""

    def __init__(self, size, rng):
        super().__init__(size, rng)
        self.trace = []

    def render(self, objects):
        frame, label, regions = super().render(objects)
        self.trace.append(([dict(o) for o in objects], label))
        return frame, label, regions


def _video(kind, seed, n=160, size=64):
    rng = np.random.default_rng(seed)
    scene = _Recording(size, rng)
    frames, labels, _ = syn._render_video(scene, n, kind, rng)
    return scene, frames, labels


def _draw(scene, frame, obj):
    return scene.draw(frame, np.zeros(frame.shape, np.uint8), obj)


def test_draw_reports_whether_any_pixel_is_in_the_frame():
    scene = syn._Scene(32, np.random.default_rng(0))
    cart = {"kind": "cart", "x": -5.5, "y": 16.0, "scale": 1.0, "shade": 40.0}
    frame, regions = scene.background.copy(), np.zeros((32, 32), np.uint8)
    assert not scene.draw(frame, regions, cart) and np.array_equal(frame, scene.background)   # column 0: 5.5 > 5 away
    cart["x"] = -4.5                                                                  # column 0 is 4.5 <= 5 away
    assert scene.draw(frame, regions, cart)
    drawn = np.argwhere(frame != scene.background)
    assert set(drawn[:, 1]) == {0} and set(drawn[:, 0]) == {15, 16, 17}  # ((0+4.5)/5)^2 + (dy/2.5)^2 <= 1
    assert (frame[15:18, 0] == 40.0).all()
    assert np.array_equal(np.argwhere(regions == syn.INTRUDER), drawn) and regions.max() == syn.INTRUDER


@pytest.mark.parametrize("kind", ["cart", "runner"])
def test_test_video_rules(kind):
    n = 160
    scene, frames, labels = _video(kind, seed=3, n=n)
    assert len(frames) == n and frames[0].dtype == np.uint8 and frames[0].shape == (64, 64)
    intruder_ids, entries = {}, []
    for t, (objects, label) in enumerate(scene.trace):
        assert len(objects) <= syn.MAX_OBJECTS                       # an intruder takes a walker's place
        intruders = [o for o in objects if o["kind"] != "walker"]
        assert all(o["kind"] == kind for o in intruders)
        visible = any(scene.draw(scene.background.copy(), np.zeros((64, 64), np.uint8), o) for o in intruders)
        assert labels[t] == label == visible                          # anomalous iff an intruder pixel is drawn
        for o in intruders:
            if o["shade"] not in intruder_ids:                        # shades are random floats: an identity
                intruder_ids[o["shade"]] = t
                entries.append(t)
    assert entries and entries[0] >= n // 4 and labels[: n // 4].sum() == 0
    assert len(entries) <= syn.INTRUDERS[kind] and np.all(np.diff(entries) >= syn.INTRUDER_GAP)
    assert labels.sum() > 0


def test_runners_are_walkers_at_skip_frame_speed_and_carts_walk():
    speeds = {"walker": [], "runner": [], "cart": []}
    for kind in ("runner", "cart"):
        scene, _, _ = _video(kind, seed=5)
        for (before, _), (after, _) in zip(scene.trace, scene.trace[1:]):
            now = {o["shade"]: o for o in after}          # shades are random floats: an identity
            for o in before:
                match = now.get(o["shade"])
                if match is None:
                    continue
                rate = syn.RUNNER_RATES if o["kind"] == "runner" else (1,)
                assert o["rate"] in rate
                assert match["x"] - o["x"] == pytest.approx(o["rate"] * o["vx"])       # k steps of a walk
                assert match["phase"] - o["phase"] == pytest.approx(o["rate"] * syn.GAIT_RATE)
                speeds[o["kind"]].append(abs(match["x"] - o["x"]))
    low, high = syn.NORMAL_SPEED
    assert low <= min(speeds["walker"]) and max(speeds["walker"]) <= high
    assert low <= min(speeds["cart"]) and max(speeds["cart"]) <= high
    assert min(speeds["runner"]) >= min(syn.RUNNER_RATES) * low > high    # every runner beats every walker


def test_training_videos_have_no_intruders():
    scene, _, labels = _video(None, seed=1)
    assert labels.sum() == 0
    assert all(o["kind"] == "walker" for objects, _ in scene.trace for o in objects)


def test_generate_writes_the_layout_and_regenerates_on_a_new_fingerprint(tmp_path):
    spec = SyntheticSpec(size=32, train_videos=2, test_videos=2, frames_per_video=40)
    root = generate(tmp_path / "synthetic", spec)
    marker = json.loads((root / "synthetic.json").read_text())
    assert marker == {**vars(spec), "generator": syn.GENERATOR_VERSION} and syn.GENERATOR_VERSION == 3
    labels = np.load(root / "frame_labels_synthetic.npy")
    assert labels.shape == (1, 80) and labels.reshape(2, 40).sum(1).min() > 0   # every test video has anomalies
    assert sorted(p.name for p in (root / "training" / "frames").iterdir()) == ["01", "02"]
    assert len(list((root / "testing" / "frames" / "02").glob("*.jpg"))) == 40
    # version 3: the exact masks, whose any-pixel per frame is the frame label
    masks, regions = np.load(root / "testing" / "pixel_gt_masks.npz"), np.load(root / "testing" / "region_masks.npz")
    assert sorted(masks.files) == sorted(regions.files) == ["01", "02"]
    assert np.array_equal(np.concatenate([masks[v].reshape(40, -1).any(1) for v in ("01", "02")]), labels[0] == 1)
    assert all(np.array_equal(regions[v] == syn.INTRUDER, masks[v]) for v in ("01", "02"))
    assert set(np.unique(regions["01"])) <= {0, syn.WALKER, syn.INTRUDER} and (regions["01"] == syn.WALKER).any()
    stamp = (root / "frame_labels_synthetic.npy").stat().st_mtime_ns
    assert generate(root, spec) == root and (root / "frame_labels_synthetic.npy").stat().st_mtime_ns == stamp
    (root / "synthetic.json").write_text(json.dumps(vars(spec)))     # a version-1 dataset: no "generator"
    (root / "stale").write_text("from the old generator")
    generate(root, spec)
    assert not (root / "stale").exists() and json.loads((root / "synthetic.json").read_text()) == marker
    again = generate(tmp_path / "again", spec)
    assert np.array_equal(np.load(again / "frame_labels_synthetic.npy"), labels)   # deterministic from the seed


# --- issue 23, items 1-2: lnta deletes only what it generated; a stored config cannot fill a disk ---

TINY = SyntheticSpec(size=16, train_videos=1, test_videos=1, frames_per_video=20)


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_folder_holding_files_but_no_marker_is_refused_and_left_as_it_was(tmp_path):
    root = tmp_path / "my_dataset"
    (root / "training").mkdir(parents=True)
    (root / "training" / "video.avi").write_bytes(b"the user's data")
    with pytest.raises(DataError, match=r"data.root=.*my_dataset: holds files but no synthetic.json"):
        generate(root, TINY)
    assert (root / "training" / "video.avi").read_bytes() == b"the user's data"
    assert _listing(tmp_path) == ["my_dataset", "my_dataset/training", "my_dataset/training/video.avi"]


@pytest.mark.parametrize("marker", ["not json", "[1, 2]", '{"name": "someone else"}'])
def test_a_marker_that_lnta_did_not_write_does_not_make_a_folder_deletable(tmp_path, marker):
    root = tmp_path / "root"
    root.mkdir()
    (root / "synthetic.json").write_text(marker)
    (root / "keep").write_text("x")
    with pytest.raises(DataError, match="holds files but no synthetic.json"):
        generate(root, TINY)
    assert (root / "keep").read_text() == "x"


def test_a_file_as_root_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        generate(tmp_path / "file", TINY)
    assert (tmp_path / "file").read_text() == "x"


def test_an_empty_folder_is_filled_and_nothing_is_left_beside_it(tmp_path):
    (tmp_path / "empty").mkdir()
    root = generate(tmp_path / "empty", TINY)
    assert json.loads((root / "synthetic.json").read_text()) == syn.fingerprint(TINY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]   # no temporary folder beside it


def test_a_build_folder_of_a_killed_generator_is_removed_and_a_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname()
    killed = tmp_path / f".synthetic.tmp-{host}-{int(dead.stdout)}"
    running = tmp_path / f".synthetic.tmp-{host}-{os.getppid()}"    # our parent process is alive
    for folder in (killed, running):
        (folder / "training").mkdir(parents=True)
    generate(tmp_path / "synthetic", TINY)
    assert not killed.exists() and running.is_dir()


BOUNDS = [
    ({"train_videos": 1_000_000_000}, "data.train_videos=1000000000: expected an integer in [1, 10000]"),
    ({"frames_per_video": 0}, "data.frames_per_video=0: expected an integer in [1, 100000]"),
    ({"size": 5000}, "data.size=5000: expected an integer in [8, 4096]"),
    ({"seed": -1}, "data.seed=-1: expected an integer in [0, 4294967295]"),
    # each within its range, together 14 * 100000 frames of 64x64 = 5.7e9 pixels > 2**28
    ({"train_videos": 8, "test_videos": 6, "frames_per_video": 100_000},
     "the synthetic dataset would hold 1400000 frames of 64x64 pixels; expected at most 268435456 pixels"),
]


@pytest.mark.parametrize("values, message", BOUNDS)
def test_sizes_out_of_range_are_refused_before_anything_is_written(tmp_path, values, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        SyntheticDataModule(root=str(tmp_path / "synthetic"), **values)
    with pytest.raises(ConfigError, match=re.escape(message)):
        generate(tmp_path / "synthetic", SyntheticSpec(**values))
    assert list(tmp_path.iterdir()) == []


def test_the_largest_dataset_in_use_is_within_the_bound():
    # experiments/gpu_check: 16 + 6 videos of 160 frames at 256x256
    syn.check_spec(SyntheticSpec(size=256, train_videos=16, test_videos=6, frames_per_video=160))
