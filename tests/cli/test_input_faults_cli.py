"""Issue 13's data faults through the real CLIs on tiny generated releases: 16-bit frames, a partial
dataset beside its full label folder, training without a test split, label checks before decoding,
__MACOSX/ folders, test-split faults before fit, a stale cache, a killed prepare."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO, run_cli
from tests.helpers import fake_releases as fr

pytestmark = pytest.mark.slow


def _train(tmp_path, root, *extra, run="run", data="ped2"):
    return [f"data={data}", f"data.root={root}", "data.image_size=32", "data.num_workers=0", "model.width=0.125",
            "trainer.max_epochs=1", "trainer.max_steps=2", "trainer.enable_progress_bar=false",
            "evaluation.calibration.max_clips=8", f"hydra.run.dir={tmp_path / run}", *extra]


def _prepare(tmp_path, root, *extra):
    return ["data=ped2", f"data.root={root}", f"data.image_size=[{fr.SIZE[0]},{fr.SIZE[1]}]",
            f"hydra.run.dir={tmp_path / 'prep'}", *extra]


def _last_line(result):
    return result.stderr.strip().splitlines()[-1]


def test_16_bit_frames_are_scaled_not_white(tmp_path):
    root = tmp_path / "thermal"
    fr.frames_layout(root, "ped2", [20], [20])
    frames = fr.video_frames(20, 1)
    for i, frame in enumerate(frames):  # 16-bit PNGs holding the 8-bit values times 257
        Image.fromarray(frame.astype(np.uint16) * 257).save(root / "training" / "frames" / "01" / f"{i:03d}.png")
        (root / "training" / "frames" / "01" / f"{i:03d}.jpg").unlink()
    run_cli("lnta.prepare", *_prepare(tmp_path, root))
    cached = np.fromfile(root / "lnta_cache" / f"{fr.SIZE[0]}x{fr.SIZE[1]}" / "train.u8", np.uint8)
    np.testing.assert_array_equal(cached.reshape(frames.shape), frames)

    bad = root / "testing" / "frames" / "01" / "005.tiff"
    Image.fromarray(np.zeros(fr.SIZE, np.float32)).save(bad)
    (root / "testing" / "frames" / "01" / "005.jpg").unlink()
    result = run_cli("lnta.prepare", *_prepare(tmp_path, root), check=False)
    assert result.returncode == 2 and _last_line(result).startswith(
        f"error: {bad}: image mode F cannot be read as greyscale frames")


def test_partial_avenue_trains_with_the_full_mask_folder(tmp_path):
    root = tmp_path / "avenue"
    fr.avenue_release(root, [40], [40, 38, 36, 34])
    for v in ("01", "03"):
        (root / "testing_videos" / f"{v}.avi").unlink()
    masks = root / "ground_truth_demo" / "testing_label_mask"
    result = run_cli("lnta.train", *_train(tmp_path, root, f"data.labels={masks}", data="avenue"))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["labels_ignored"] == ["1", "3"] and metrics["label_source"] == "masks"
    assert metrics["n_frames_scored"] == (38 - 15) + (34 - 15)
    assert (result.stdout + result.stderr).count("not in the test split ignored") == 1
    # the interval file matches by position: it cannot serve part of the dataset, and says what can
    result = run_cli("lnta.train", *_train(tmp_path, root, run="run2", data="avenue"), check=False)
    assert result.returncode == 2 and "use per-video labels: data.label_source=masks or data.labels=FOLDER" in \
        _last_line(result)


def test_training_only_footage_trains_and_scores(tmp_path):
    root = tmp_path / "normal"
    fr.frames_layout(root, "ped2", [40, 36], [])
    result = run_cli("lnta.train", *_train(tmp_path, root, run="needs_test"), check=False)
    assert result.returncode == 2 and "no test split" in _last_line(result) and "test_after_fit=false" in \
        _last_line(result)
    assert not (tmp_path / "needs_test" / "checkpoints").exists()
    run_cli("lnta.train", *_train(tmp_path, root, "test_after_fit=false"))
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert ckpt.is_file() and not (tmp_path / "run" / "metrics.json").exists()
    run_cli("lnta.score", f"ckpt_path={ckpt}", f"input={root / 'training' / 'frames' / '02'}", "progress=false",
            f"hydra.run.dir={tmp_path / 'score'}")
    rows = (tmp_path / "score" / "scores.csv").read_text().splitlines()
    assert rows[0].startswith("video,frame,psnr") and len(rows) == 1 + 36


def test_prepare_checks_labels_before_decoding_anything(tmp_path):
    root = tmp_path / "ds"
    labels = fr.frames_layout(root, "ped2", [40], [40, 38])
    np.save(root / "frame_labels_ped2.npy", np.concatenate(labels)[None, :-1])
    (root / "training" / "frames" / "01" / "007.jpg").write_bytes(b"not a jpeg")  # found only when decoding
    result = run_cli("lnta.prepare", *_prepare(tmp_path, root), check=False)
    assert result.returncode == 2
    assert _last_line(result) == (f"error: {root / 'frame_labels_ped2.npy'}: 77 frame labels but the 2 test videos "
                                  "have 78 frames; labels and frames are misaligned")


def test_macosx_folder_in_the_test_split_is_ignored(tmp_path):
    root = tmp_path / "ds"
    fr.frames_layout(root, "ped2", [20], [20])
    junk = root / "testing" / "frames" / "__MACOSX" / "01"
    junk.mkdir(parents=True)
    (junk / "._000.jpg").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    run_cli("lnta.prepare", *_prepare(tmp_path, root))
    index = json.loads((root / "lnta_cache" / f"{fr.SIZE[0]}x{fr.SIZE[1]}" / "index.json").read_text())
    assert index["splits"]["test"]["names"] == ["01"]


@pytest.mark.parametrize("fault", ["short test video", "mixed test frame sizes"])
def test_test_split_faults_stop_before_fit(tmp_path, fault):
    root = tmp_path / "ds"
    fr.frames_layout(root, "ped2", [40], [40, 12 if fault == "short test video" else 40])
    if fault == "mixed test frame sizes":
        Image.fromarray(np.zeros((16, 16), np.uint8)).save(root / "testing" / "frames" / "02" / "033.jpg")
        expected = f"error: {root / 'testing' / 'frames' / '02' / '033.jpg'}: frame of 16x16 (HxW) but 000.jpg"
    else:
        expected = f"error: {root}: test video 02 has 12 frames, fewer than a clip (data.clip_len=16)"
    result = run_cli("lnta.train", *_train(tmp_path, root), check=False)
    assert result.returncode == 2 and _last_line(result).startswith(expected)
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing was trained


def test_a_stale_cache_is_refused(tmp_path):
    root = tmp_path / "ds"
    fr.frames_layout(root, "ped2", [40, 36], [40])
    run_cli("lnta.prepare", *_prepare(tmp_path, root))
    for f in sorted((root / "training" / "frames" / "01").iterdir())[-4:]:
        f.unlink()
    result = run_cli("lnta.train", *_train(tmp_path, root, f"data.image_size=[{fr.SIZE[0]},{fr.SIZE[1]}]"),
                     check=False)
    assert result.returncode == 2
    assert "stale cache: train video 01" in _last_line(result) and "36 frame files now, 40 when prepared" in \
        _last_line(result) and _last_line(result).endswith("re-run python -m lnta.prepare with the same data settings")


def test_a_sigkilled_prepare_leaves_nothing_after_the_next_one(tmp_path):
    root = tmp_path / "ds"
    fr.frames_layout(root, "ped2", [400, 400, 400], [40])  # decoding takes long enough to be killed mid-way
    cache = root / "lnta_cache"
    process = subprocess.Popen([sys.executable, "-m", "lnta.prepare", *_prepare(tmp_path, root)], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 300
    while not list(cache.glob(".*.tmp*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    orphans = list(cache.glob(".*.tmp*"))
    assert orphans, "prepare finished before it could be killed"
    run_cli("lnta.prepare", *_prepare(tmp_path, root))
    assert sorted(p.name for p in cache.iterdir()) == [f"{fr.SIZE[0]}x{fr.SIZE[1]}"]
