"""The synthetic generator's rules, exactly: runners are skip-frame walkers, carts walk, labels mark
frames with an intruder pixel, the object count never exceeds the normal maximum, and the fingerprint."""
import json

import numpy as np
import pytest

from lnta.data import synthetic as syn
from lnta.data.synthetic import SyntheticSpec, generate


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
