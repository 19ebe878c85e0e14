"""Issue 13's data faults as rules: 16-bit frames, partial label folders, macOS leftovers, UCSD Ped1
beside Ped2, training without a test split, early test-split checks, stale caches and build folders."""
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from lnta.data.datamodule import VideoDataModule
from lnta.data.io import cache as cache_mod
from lnta.data.io.frames import check_frame_sizes, read_gray
from lnta.data.io.video import open_video
from lnta.data.labels.layouts import find_layout, label_file_source
from lnta.errors import ConfigError, DataError
from tests.helpers import fake_releases as fr

SIXTEEN = np.array([[0, 128, 257, 32767, 32896, 65535]], np.uint16)  # -> 0, 0, 1, 127, 128, 255
EIGHT = np.array([[0, 0, 1, 127, 128, 255]], np.uint8)


def _dm(root, name="ped2", **kwargs):
    return VideoDataModule(str(root), name=name, image_size=fr.SIZE, cache_dir=str(root / "cache"), **kwargs)


# -- 16-bit frames (item 1) -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["png I;16", "tiff I;16", "tiff I;16B", "tiff I"])
def test_16_bit_frames_scale_by_the_bit_depth(tmp_path, kind):
    suffix, mode = kind.split()
    path = tmp_path / f"f.{suffix}"
    if mode == "I;16B":
        image = Image.frombytes("I;16B", SIXTEEN.shape[::-1], SIXTEEN.astype(">u2").tobytes())
    elif mode == "I":
        image = Image.fromarray(SIXTEEN.astype(np.int32))
    else:
        image = Image.fromarray(SIXTEEN)
    image.save(path)
    with Image.open(path) as check:  # the file really is what the case says (older Pillow, 10.0 and 10.1 seen,
        # opens a 16-bit PNG as "I"; 13 as "I;16")
        assert check.mode == mode or (suffix == "png" and check.mode == "I")
    np.testing.assert_array_equal(read_gray(path), EIGHT)


def test_8_bit_frames_expanded_to_16_bit_read_back_exactly(tmp_path):
    values = np.arange(256, dtype=np.uint16)[None]
    Image.fromarray(values * 257).save(tmp_path / "f.png")
    np.testing.assert_array_equal(read_gray(tmp_path / "f.png"), values.astype(np.uint8))


@pytest.mark.parametrize("mode", ["F", "I out of range"])
def test_modes_that_cannot_be_converted_are_named(tmp_path, mode):
    path = tmp_path / "f.tiff"
    if mode == "F":
        Image.fromarray(np.full((2, 3), 0.5, np.float32)).save(path)
        expected = r"f\.tiff: image mode F cannot be read as greyscale frames"
    else:
        Image.fromarray(np.array([[0, 70000]], np.int32)).save(path)
        expected = r"f\.tiff: image mode I has values 0\.\.70000, outside the 16-bit range"
    with pytest.raises(DataError, match=expected):
        read_gray(path)


# -- partial datasets and per-video label files (item 8) ----------------------------------------

def test_partial_avenue_ignores_labels_of_absent_videos(tmp_path, caplog):
    labels = fr.avenue_release(tmp_path, [20], [20, 19, 18, 17])
    for v in ("01", "03"):
        (tmp_path / "testing_videos" / f"{v}.avi").unlink()
    dm = _dm(tmp_path, "avenue", label_source="masks")
    dm.store("test")
    assert list(dm.test_labels) == ["02", "04"]
    np.testing.assert_array_equal(dm.test_labels["04"], labels["masks"][3])
    assert dm.label_info["labels_ignored"] == ["1", "3"]
    warnings = [r for r in caplog.records if "not in the test split ignored" in r.message]
    assert len(warnings) == 1 and "(1, 3)" in warnings[0].message


def test_a_video_without_its_label_file_is_named(tmp_path):
    fr.shanghaitech_release(tmp_path, [20], {"01_0014": 20, "02_0001": 30})
    (tmp_path / "testing" / "test_frame_mask" / "02_0001.npy").unlink()
    with pytest.raises(DataError, match=r"test_frame_mask: no labels for test video 02_0001 \(1 of 2"):
        _dm(tmp_path, "shanghaitech").store("test")


def test_data_labels_takes_a_folder_and_a_single_mask_mat(tmp_path):
    labels = fr.avenue_release(tmp_path / "avenue", [20], [20, 19, 18])
    masks = tmp_path / "avenue" / "ground_truth_demo" / "testing_label_mask"
    partial = tmp_path / "partial"
    (partial / "training_videos").mkdir(parents=True)
    (partial / "testing_videos").mkdir()
    os.link(tmp_path / "avenue" / "training_videos" / "01.avi", partial / "training_videos" / "01.avi")
    os.link(tmp_path / "avenue" / "testing_videos" / "03.avi", partial / "testing_videos" / "03.avi")
    for given in (masks, masks / "3_label.mat"):
        dm = _dm(partial, "avenue", labels=str(given))
        dm.store("test")
        np.testing.assert_array_equal(dm.test_labels["03"], labels["masks"][2])
        assert dm.label_info["label_source"] == "masks"
        assert dm.label_info["labels_ignored"] == (["1", "2"] if given == masks else [])
    with pytest.raises(DataError, match=r"data.labels=.*partial: no per-video label files in this folder"):
        label_file_source(partial)


# -- layouts: __MACOSX (item 14), UCSD Ped1 beside Ped2 ------------------------------------------

def test_macosx_folders_are_not_videos(tmp_path):
    fr.frames_layout(tmp_path, "ped2", [20], [20, 19])
    for split in ("training", "testing"):
        junk = tmp_path / split / "frames" / "__MACOSX" / "01"
        junk.mkdir(parents=True)
        (junk / "._000.jpg").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    layout = find_layout(tmp_path, "ped2")
    assert [n for n, _ in layout.train] == ["01"] and [n for n, _ in layout.test] == ["01", "02"]


def test_ucsd_release_root_with_ped1_and_ped2_reads_the_named_one(tmp_path):
    ped1 = fr.ucsd_release(tmp_path, [20, 18, 17], [20, 19, 18], ped=1)
    ped2 = fr.ucsd_release(tmp_path, [20, 18], [22, 21])
    for name, expected, lengths in (("ped2", ped2, [22, 21]), ("ped1", ped1, [20, 19, 18])):
        dm = _dm(tmp_path, name)
        assert dm.layout().test[0][1].parent.parent.name == f"UCSD{name}"
        store = dm.store("test")
        assert store.lengths == lengths and dm.label_info["labels_file"].endswith(f"UCSD{name}.m")
        assert all(np.array_equal(dm.test_labels[n], y) for n, y in zip(store.names, expected))
    (tmp_path / "UCSDped2").rename(tmp_path / "elsewhere")
    with pytest.raises(DataError, match=r"data.root=.*: no UCSDped2 folder for data.name=ped2 \(found UCSDped1\)"):
        find_layout(tmp_path, "ped2")


# -- training without a test split (item 9) -------------------------------------------------------

def test_training_only_dataset(tmp_path):
    fr.frames_layout(tmp_path, "ped2", [20, 18], [20])
    (tmp_path / "frame_labels_ped2.npy").unlink()
    shutil.rmtree(tmp_path / "testing")
    dm = _dm(tmp_path)
    with pytest.raises(DataError, match=r"no test split \(.*testing/frames not found\); to train without one "
                                        r"set test_after_fit=false"):
        dm.setup("fit")
    dm.test_required = False  # lnta.train with test_after_fit=false
    dm.setup("fit")
    assert len(dm.train_set) == (20 - 15) + (18 - 15) and dm.test_labels is None
    dm.prepare_cache()
    assert set(cache_mod.json.loads((dm.cache / "index.json").read_text())["splits"]) == {"train"}
    with pytest.raises(ConfigError, match="data.test=false but test_after_fit=true"):
        _dm(tmp_path, test=False).setup("fit")
    with pytest.raises(ConfigError, match="data.test=maybe: expected true, false or auto"):
        _dm(tmp_path, test="maybe")


def test_data_test_false_skips_unlabelled_test_footage(tmp_path):
    fr.frames_layout(tmp_path, "ped2", [20], [20])
    (tmp_path / "frame_labels_ped2.npy").unlink()
    with pytest.raises(DataError, match="no test labels"):
        _dm(tmp_path).setup("fit")
    dm = _dm(tmp_path, test=False)
    dm.test_required = False
    dm.setup("fit")
    assert dm.test_labels is None


# -- test-split faults before training (items 10, 19) --------------------------------------------

def test_short_test_video_stops_before_the_training_frames_are_read(tmp_path, monkeypatch):
    fr.frames_layout(tmp_path, "ped2", [20], [20, 9])
    dm = _dm(tmp_path)
    monkeypatch.setattr(dm, "store", lambda split: pytest.fail(f"decoded {split} before the early check"))
    with pytest.raises(DataError, match=r"test video 02 has 9 frames, fewer than a clip \(data.clip_len=16\)"):
        dm.setup("fit")


def _mixed_video(folder, sizes):
    folder.mkdir(parents=True)
    for i, size in enumerate(sizes):
        Image.fromarray(np.full(size, i % 256, np.uint8)).save(folder / f"{i:03d}.png")


def test_frame_sizes_are_verified_also_across_read_chunks(tmp_path):
    _mixed_video(tmp_path / "v", [(8, 8)] * 64 + [(8, 12)])  # the change is aligned with the 64-frame chunk
    with pytest.raises(DataError, match=r"v/064\.png: frame of 8x12 \(HxW\) but earlier frames of this video are 8x8"):
        list(open_video(tmp_path / "v").chunks(64))
    with pytest.raises(DataError, match=r"v/064\.png: frame of 8x12 \(HxW\) but 000\.png of the same video is 8x8"):
        check_frame_sizes(tmp_path / "v")
    _mixed_video(tmp_path / "w", [(8, 12)] * 3)
    assert check_frame_sizes(tmp_path / "w") == (8, 12)


def test_mixed_test_frame_sizes_stop_the_early_check(tmp_path, monkeypatch):
    fr.frames_layout(tmp_path, "ped2", [20], [20, 20])
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "testing" / "frames" / "02" / "017.jpg")
    dm = _dm(tmp_path)
    monkeypatch.setattr(dm, "store", lambda split: pytest.fail(f"decoded {split} before the early check"))
    with pytest.raises(DataError, match=r"02/017\.jpg: frame of 16x16 \(HxW\) but 000\.jpg"):
        dm.setup("fit")


def test_prepare_checks_labels_before_decoding(tmp_path, monkeypatch):
    labels = fr.frames_layout(tmp_path, "ped2", [20], [20, 19])
    np.save(tmp_path / "frame_labels_ped2.npy", np.concatenate(labels)[None, :-1])
    monkeypatch.setattr(cache_mod, "_write_split", lambda *a: pytest.fail("decoded before the label check"))
    with pytest.raises(DataError, match="38 frame labels but the 2 test videos have 39 frames"):
        _dm(tmp_path).prepare_cache()


# -- stale caches and build folders (items 20, 23) -------------------------------------------------

def test_a_stale_cache_is_refused_naming_the_video(tmp_path):
    fr.frames_layout(tmp_path, "ped2", [40, 30], [20])
    _dm(tmp_path).prepare_cache()
    assert isinstance(_dm(tmp_path).store("train").frames, np.memmap)  # fresh: used
    frames = sorted((tmp_path / "training" / "frames" / "01").iterdir())
    for f in frames[-4:]:
        f.unlink()
    with pytest.raises(DataError, match=r"stale cache: train video 01 .*: 36 frame files now, 40 when prepared "
                                        r"\(40 frames cached\); re-run python -m lnta.prepare"):
        _dm(tmp_path).store("train")
    _dm(tmp_path).prepare_cache()
    Image.fromarray(fr.index_frame(3, 9)).save(frames[3])  # same count, rewritten content
    os.utime(frames[3], ns=(1, 1))
    with pytest.raises(DataError, match=r"train video 01 .*: its files changed \(sizes or modification times\)"):
        _dm(tmp_path).store("train")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_build_leaves_nothing_after_the_next_one(tmp_path):
    fr.frames_layout(tmp_path, "ped2", [20], [20])
    dest = _dm(tmp_path).cache
    dest.parent.mkdir(parents=True)
    orphans = [dest.with_name(f".{dest.name}.tmp-{socket.gethostname()}-{_dead_pid()}"),
               dest.with_name(f".{dest.name}.tmp{_dead_pid()}")]  # the name of builds before this fix
    alive = dest.with_name(f".{dest.name}.tmp-{socket.gethostname()}-{os.getpid()}-x")  # not a build name
    running = dest.with_name(f".{dest.name}.tmp-{socket.gethostname()}-{os.getppid()}")  # a live build
    for folder in (*orphans, alive, running):
        folder.mkdir()
        (folder / "train.u8").write_bytes(b"\0" * 64)
    _dm(tmp_path).prepare_cache()
    assert not any(p.exists() for p in orphans) and alive.exists() and running.exists()
    assert sorted(p.name for p in dest.parent.iterdir()) == sorted([dest.name, alive.name, running.name])
