"""data=folder end to end, as a new user follows the README's "Train on your own videos": the commands are
read from that section (a changed command changes what runs here), on generated lossy .mp4 footage."""
import csv
import json
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
import torch

from lnta.metrics.calibration import CALIBRATION_KEY
from tests.conftest import REPO, one_error, run_cli
from tests.helpers import fake_releases as fr

#: what makes the README's runs seconds long: 32x32 frames, a narrower AE, two steps, eager testing
TINY = {"lnta.train": ["data.image_size=32", "model.width=0.125", "trainer.max_steps=2",
                       "trainer.enable_progress_bar=false", "inference_compile=false"],
        "lnta.score": ["progress=false"], "lnta.calibrate": ["progress=false"], "lnta.prepare": []}


def readme_commands() -> list[str]:
    """Every ``python -m lnta.*`` line of the README section "Train on your own videos", in order."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Train on your own videos\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("python -m lnta.")]


def _footage(tmp):
    """Five normal videos (cam1..cam5), a new one, two more normal ones, two labelled test videos."""
    fr.own_footage(tmp / "normal", [40] * 5)
    fr.own_footage(tmp / "new", [40], first=9)
    fr.own_footage(tmp / "more", [40, 40], first=6)
    fr.own_footage(tmp / "test", [40, 36], first=7)
    np.save(tmp / "labels.npy", np.concatenate([fr.anomaly_labels(40), fr.anomaly_labels(36)]))
    return {"/path/to/normal_videos": tmp / "normal", "/path/to/new_video.mp4": tmp / "new" / "cam9.mp4",
            "/path/to/more_normal_videos": tmp / "more", "/path/to/test_videos": tmp / "test",
            "/path/to/labels.npy": tmp / "labels.npy", "outputs/": f"{tmp}/outputs/",
            "data.image_size=64": "data.image_size=32"}  # the cache at the tiny runs' size


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_readme_train_calibrate_score_on_own_mp4_videos(tmp_path):
    places = _footage(tmp_path)
    commands = readme_commands()
    modules = [shlex.split(c)[2] for c in commands]
    assert modules == ["lnta.train", "lnta.score", "lnta.calibrate", "lnta.score", "lnta.prepare", "lnta.train"]
    logs = []
    for command in commands:
        for placeholder, path in places.items():
            command = command.replace(placeholder, str(path))
        argv = shlex.split(command)
        result = run_cli(argv[2], *argv[3:], *TINY[argv[2]])
        logs.append(result.stdout + result.stderr)
    out = tmp_path / "outputs"

    # 1. train: cam3 (the middle of five) held out, calibrated on its 40 - 16 + 1 = 25 clips, no test
    train = logs[0]
    assert f"4 training videos under {tmp_path / 'normal'} at 25 fps" in train  # the rate in the files' headers
    assert "1 held out for the calibration after fit (data.holdout=0.2): cam3" in train
    assert "over 25 clips of 1 held-out video(s) (cam3)" in train
    assert "folder has no test split: the test after fit is skipped (no AUC)" in train
    assert not (out / "my_camera" / "metrics.json").exists()
    stats = torch.load(out / "my_camera" / "checkpoints" / "last.ckpt", weights_only=True)[CALIBRATION_KEY]
    assert stats["held_out"] is True and stats["n"] == 25
    assert stats["source"].startswith("25 clips of 1 held-out video(s) (cam3) at step 2")

    # 2. score the new video: every frame, its threshold from the held-out footage
    rows = _rows(out / "my_camera_scores" / "scores.csv")
    assert [int(r["frame"]) for r in rows] == list(range(40)) and {r["video"] for r in rows} == {"cam9"}
    assert all(np.isfinite(float(r["calibrated"])) and r["flagged"] in ("0", "1") for r in rows)
    origin = json.loads((out / "my_camera_scores" / "flagged.json").read_text())["threshold_origin"]
    assert origin["calibrated_on"] == "held-out normal footage" and origin["frames"] == 25 and origin["note"] is None

    # 3. re-calibrated on two more normal videos (every frame with a whole clip: 2 x 25), then scored again
    origin = json.loads((out / "my_camera_scores_recalibrated" / "flagged.json").read_text())["threshold_origin"]
    assert origin["calibrated_on"] == "held-out normal footage" and origin["frames"] == 50
    assert str(tmp_path / "more") in origin["source"]

    # 4. test videos with a label file: prepared into the cache (never taken for a video), then tested from it
    cache = tmp_path / "normal" / "lnta_cache" / "32x32"
    assert {p.name for p in cache.iterdir()} == {"index.json", "train.u8", "holdout.u8", "test.u8"}
    assert "memory-mapped from the prepared cache" in logs[5]
    metrics = json.loads((out / "my_camera_tested" / "metrics.json").read_text())
    assert metrics["labels_file"] == str(tmp_path / "labels.npy") and 0 <= metrics["auc_micro"] <= 1


@pytest.mark.slow
def test_folder_errors_are_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli("lnta.train", "+experiment=folder_skip", f"data.root={tmp_path / 'empty'}",
                     f"hydra.run.dir={tmp_path / 'run'}", check=False)
    assert one_error(result) == (f"error: data.root={tmp_path / 'empty'}: the folder is empty (expected video files "
                                 "(.avi, .mp4, .mov, .mkv, .m4v, .mpg, .mpeg, .webm, .wmv) or sub-folders of frame "
                                 "images (.jpg, .jpeg, .png, .tif, .tiff, .bmp))")
    assert "GPU available" not in result.stdout + result.stderr  # found before a trainer is built
    fr.own_footage(tmp_path / "broken", [20, 20])
    (tmp_path / "broken" / "cam2.mp4").write_bytes(b"not a video")
    result = run_cli("lnta.train", "+experiment=folder_skip", f"data.root={tmp_path / 'broken'}", "data.holdout=0",
                     f"hydra.run.dir={tmp_path / 'run'}", check=False)
    assert one_error(result).startswith(f"error: {tmp_path / 'broken' / 'cam2.mp4'}: unreadable or corrupt video")


def test_the_readme_snippet_writes_five_videos_the_folder_reads(tmp_path):
    """The README's "No footage at hand yet?" Python block runs as written and makes a folder data=folder takes."""
    from lnta.data.folder import find_videos
    from lnta.data.io.store import FrameStore

    text = (REPO / "README.md").read_text()
    section = text.split("\n## Train on your own videos\n", 1)[1].split("\n## ", 1)[0]
    [snippet] = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    (tmp_path / "normal_videos").mkdir()
    (tmp_path / "make_videos.py").write_text(snippet)  # run as a user who pastes it into a file
    subprocess.run([sys.executable, "make_videos.py"], cwd=tmp_path, check=True, timeout=300)
    videos = find_videos(tmp_path / "normal_videos")
    assert [name for name, _ in videos] == ["cam1", "cam2", "cam3", "cam4", "cam5"]
    store = FrameStore.decode(videos, 32)
    assert store.lengths == [40] * 5
