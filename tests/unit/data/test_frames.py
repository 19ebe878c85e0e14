"""The frames layout: numeric ordering, labels, verification, clips; the real Ped2 when present."""
import numpy as np
import pytest
import torch
from PIL import Image

from lnta.data.datamodule import VideoDataModule
from lnta.data.io.frames import list_frames, list_videos, resize_gray
from lnta.data.labels.labels import load_frame_labels, split_labels
from lnta.data.sampling import scored_frames
from lnta.errors import DataError
from lnta.io import is_macos_metadata
from tests.conftest import shared_dataset


def _write_video(folder, n, size=(20, 24), start=0, names=None):
    folder.mkdir(parents=True)
    for i in range(n):
        name = names(i) if names else f"{i + start}.png"
        Image.fromarray(np.full(size, (i * 10) % 256, np.uint8)).save(folder / name)


def test_numeric_frame_order_and_macos_files(tmp_path):
    _write_video(tmp_path / "v", 12)
    (tmp_path / "v" / "._3.png").write_bytes(b"junk")
    assert [p.stem for p in list_frames(tmp_path / "v")] == [str(i) for i in range(12)]
    _write_video(tmp_path / "__MACOSX", 2)  # an unpacked macOS zip's metadata folder is no video
    assert [p.name for p in list_videos(tmp_path)] == ["v"]


@pytest.mark.parametrize("path, metadata", [("._1.png", True), ("a/._1.png", True), ("__MACOSX", True),
                                            ("__MACOSX/v/1.png", True), ("v/1.png", False), ("_1.png", False)])
def test_one_macos_metadata_filter(path, metadata):
    assert is_macos_metadata(path) is metadata


def _dataset(tmp_path, train=(20, 18), test=(17, 19), labels=None):
    for i, n in enumerate(train):
        _write_video(tmp_path / "training" / "frames" / f"{i + 1:02d}", n)
    for i, n in enumerate(test):
        _write_video(tmp_path / "testing" / "frames" / f"{i + 1:02d}", n)
    np.save(tmp_path / "frame_labels_toy.npy", labels if labels is not None else np.zeros((1, sum(test)), np.uint8))
    return VideoDataModule(str(tmp_path), image_size=16, batch_size=2)


def test_clips_are_uint8_and_exact(tmp_path):
    dm = _dataset(tmp_path)
    dm.setup("fit")
    assert len(dm.train_set) == (20 - 15) + (18 - 15)
    item = dm.train_set[1]
    assert item["clip"].dtype == torch.uint8 and item["clip"].shape == (1, 16, 16, 16)
    assert item["clip"][0, :, 0, 0].tolist() == [(i * 10) % 256 for i in range(1, 17)]
    batch = next(iter(dm.train_dataloader()))
    assert batch["clip"].shape == (2, 1, 16, 16, 16)


def test_test_clips_score_the_ninth_frame(tmp_path):
    dm = _dataset(tmp_path)
    dm.setup("test")
    frames = [dm.test_set[i]["frame"] for i in range(len(dm.test_set))]
    assert frames == scored_frames(17, 16).tolist() + scored_frames(19, 16).tolist()


def test_label_count_mismatch_is_a_clear_error(tmp_path):
    dm = _dataset(tmp_path, labels=np.zeros((1, 35), np.uint8))
    with pytest.raises(DataError, match=r"35 frame labels but the 2 test videos have 36 frames"):
        dm.setup("test")


def test_label_shapes(tmp_path):
    np.save(tmp_path / "a.npy", np.array([[0, 1, 1]]))
    np.save(tmp_path / "b.npy", np.array([0, 1, 1]))
    np.save(tmp_path / "c.npy", np.zeros((2, 3)))
    assert load_frame_labels(tmp_path / "a.npy").tolist() == load_frame_labels(tmp_path / "b.npy").tolist()
    with pytest.raises(DataError, match="expected \\(1, N\\) or \\(N,\\)"):
        load_frame_labels(tmp_path / "c.npy")


def test_missing_root_and_empty_split(tmp_path):
    with pytest.raises(DataError, match="folder not found"):
        VideoDataModule(str(tmp_path / "nope")).setup("fit")
    (tmp_path / "training" / "frames").mkdir(parents=True)
    with pytest.raises(DataError, match="no video folders"):
        VideoDataModule(str(tmp_path)).setup("fit")


def test_resize_is_bilinear_half_pixel():
    frame = np.array([[0, 100], [200, 50]], np.uint8)[None]
    assert resize_gray(frame, 2) is frame
    up = resize_gray(frame, 4)[0]
    assert up[0, 0] == 0 and up[3, 3] == 50 and up.shape == (4, 4)


@pytest.mark.realdata
def test_real_ped2_counts_and_scored_frames():
    root = shared_dataset("ped2")
    dm = VideoDataModule(str(root), name="ped2", image_size=32)
    train, test = dm.store("train"), dm.store("test")
    assert len(train.names) == 16 and len(test.names) == 12
    assert train.lengths == [120, 150, 150, 180, 180, 150, 150, 120, 180, 180, 180, 180, 180, 150, 150, 150]
    assert test.lengths == [180, 180, 150, 180, 150, 180, 180, 180, 120, 150, 180, 180]
    labels = dm.test_labels  # loaded and checked against the frame counts with the test store
    flat = np.load(root / "frame_labels_ped2.npy")[0]
    assert np.array_equal(np.concatenate([labels[n] for n in test.names]), flat)
    dm.setup("test")
    assert len(dm.test_set) == 1830
    assert dm.test_set[0]["frame"] == 8 and dm.test_set[len(dm.test_set) - 1]["frame"] == 180 - 8
    # the labels the protocol keeps are exactly those of frames 8 .. len-8 of each video
    kept = np.concatenate([labels[n][scored_frames(len(labels[n]), 16)] for n in test.names])
    assert len(kept) == 1830 and kept.sum() == sum(labels[n][8:len(labels[n]) - 7].sum() for n in test.names)
