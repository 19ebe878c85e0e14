"""Each release layout and label format, parsed from generated files with the real names and keys."""
import numpy as np
import pytest

from tests.helpers import fake_releases as fr
from lnta.data.labels import formats as fmt
from lnta.data.datamodule import VideoDataModule
from lnta.data.labels.layouts import find_layout, video_key
from lnta.data.io.store import FrameStore
from lnta.errors import DataError


def _decoded(videos):
    store = FrameStore.decode(videos, fr.SIZE)
    index, number = fr.decode_index(store.frames)
    expected = np.concatenate([np.arange(n) for n in store.lengths])
    numbers = np.concatenate([np.full(n, v + 1) for v, n in enumerate(store.lengths)])
    return store, np.array_equal(index, expected) and np.array_equal(number, numbers)


def _labels(layout, kind):
    store = FrameStore.decode(layout.test, fr.SIZE)
    by_video = layout.label_source(kind).load(store.names, store.lengths)
    return [by_video[n] for n in store.names]


def _equal(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_ucsd_release(tmp_path):
    labels = fr.ucsd_release(tmp_path, [20, 18], [20, 19, 25])
    layout = find_layout(tmp_path, "ped2")
    assert layout.kind == "ucsd"
    train, exact_train = _decoded(layout.train)
    test, exact_test = _decoded(layout.test)
    assert train.names == ["Train001", "Train002"] and train.lengths == [20, 18] and exact_train
    assert test.names == ["Test001", "Test002", "Test003"] and test.lengths == [20, 19, 25] and exact_test
    assert layout.labels["intervals"].path.name == "UCSDped2.m"
    assert _equal(_labels(layout, "intervals"), labels) and _equal(_labels(layout, "masks"), labels)
    fr.write_interval_mat(tmp_path / "ped2.mat", labels)
    assert _equal(_labels(find_layout(tmp_path, "ped2"), "intervals"), labels)


def test_avenue_release_and_label_choice(tmp_path):
    labels = fr.avenue_release(tmp_path, [20, 18], [20, 19])
    layout = find_layout(tmp_path, "avenue")
    train, exact_train = _decoded(layout.train)
    test, exact_test = _decoded(layout.test)
    assert layout.kind == "avenue" and train.names == ["01", "02"] and exact_train and exact_test
    assert test.lengths == [20, 19]
    assert _equal(_labels(layout, "intervals"), labels["intervals"])
    assert _equal(_labels(layout, "masks"), labels["masks"])
    assert not _equal(labels["intervals"], labels["masks"])
    assert layout.label_source("auto").kind == "intervals"


def test_shanghaitech_release(tmp_path):
    labels = fr.shanghaitech_release(tmp_path, [20, 18], {"01_0014": 20, "02_0001": 30})
    layout = find_layout(tmp_path, "shanghaitech")
    train, exact_train = _decoded(layout.train)
    test, exact_test = _decoded(layout.test)
    assert layout.kind == "shanghaitech" and train.names == ["01_001", "01_002"] and exact_train
    assert test.names == ["01_0014", "02_0001"] and exact_test  # JPEG frames decode exactly
    assert _equal(_labels(layout, "auto"), labels)
    dm = VideoDataModule(str(tmp_path), name="shanghaitech", image_size=fr.SIZE, batch_size=2)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["clip"].shape == (2, 1, 16, *fr.SIZE) and dm.label_info["label_source"] == "masks"


@pytest.mark.parametrize("shape", ["(1, N)", "(N,)"])
def test_frames_layout_npy_labels(tmp_path, shape):
    labels = fr.frames_layout(tmp_path, "ped2", [20], [20, 19])
    if shape == "(N,)":
        np.save(tmp_path / "frame_labels_ped2.npy", np.concatenate(labels))
    layout = find_layout(tmp_path, "ped2")
    assert layout.kind == "frames" and _equal(_labels(layout, "npy"), labels)


def test_datamodule_records_the_label_choice(tmp_path):
    fr.avenue_release(tmp_path, [20], [20, 19])
    dm = VideoDataModule(str(tmp_path), name="avenue", image_size=fr.SIZE, label_source="masks")
    dm.store("test")
    assert dm.label_info == {"label_source": "masks",
                             "labels_from": "derived from pixel masks: a frame is anomalous where any mask pixel is set",
                             "labels_file": str(tmp_path / "ground_truth_demo" / "testing_label_mask"),
                             "labels_ignored": [], "labels_order": "by video name"}
    with pytest.raises(DataError, match="data.label_source=npy: no npy test labels under"):
        VideoDataModule(str(tmp_path), name="avenue", label_source="npy").layout().label_source("npy")


def test_intervals_are_one_based_inclusive():
    labels = fmt.intervals_to_labels(np.array([[2, 6], [3, 6]]), 7, "x")
    assert labels.tolist() == [0, 1, 1, 0, 0, 1, 0]
    with pytest.raises(DataError, match=r"x: interval \[5, 9\] outside the video's frames 1..8"):
        fmt.intervals_to_labels(np.array([[5], [9]]), 8, "x")


def test_ucsd_m_with_several_ranges(tmp_path):
    path = tmp_path / "UCSDped1.m"
    path.write_text("TestVideoFile = {};\nTestVideoFile{end+1}.gt_frame = [61:180];\n"
                    "TestVideoFile{end+1}.gt_frame = [5:9, 20:22 30];\n")
    first, second = fmt.load_ucsd_m(path)
    assert first.tolist() == [[61], [180]] and second.tolist() == [[5, 20, 30], [9, 22, 30]]


def test_video_keys_match_label_files_to_videos():
    assert video_key("1_label") == video_key("01") == "1"
    assert video_key("Test001_gt") == video_key("Test001") == "Test1"
    assert video_key("01_0014") == "1_14"


def test_unknown_layout_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no known layout"):
        find_layout(tmp_path)


def test_pixel_mask_archive_is_read_once_for_frame_labels_and_pixel_masks(tmp_path):
    masks = np.zeros((4, 3, 5), bool)
    masks[2, 1, 1] = True
    path = tmp_path / "pixel_gt_masks.npz"
    np.savez(path, **{"02": masks, "01": masks[:2]})
    assert fmt.load_mask_npz(path)["02"].tolist() == [0, 0, 1, 0]
    read = fmt.read_pixel_masks(path, ["02", "03"])
    assert list(read) == ["02"] and np.array_equal(read["02"], masks)
    path.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DataError, match="pixel_gt_masks.npz: unreadable mask archive"):
        fmt.read_pixel_masks(path)


# --- issue 23, item 6: labels concatenated in the videos' text order ------------------------------

UNPADDED = {"1": 40, "2": 50, "10": 60}   # numeric order 1, 2, 10; text order 1, 10, 2


def _unpadded_dataset(root, order, masks=False, names=UNPADDED):
    """Test videos ``names`` with one anomalous run each (all different), their labels concatenated in
    ``order``; with ``masks``, per-video pixel masks (``testing/pixel_gt_masks.npz``) as well."""
    fr.frames_layout(root, "x", [20], [])
    labels = {}
    for v, (name, length) in enumerate(names.items()):
        fr._write_images(root / "testing" / "frames" / name, fr.video_frames(length, v + 1), "{:03d}.jpg")
        labels[name] = np.zeros(length, np.uint8)
        labels[name][5 * v + 3: 5 * v + 20] = 1
    np.save(root / "frame_labels_x.npy", np.concatenate([labels[n] for n in order])[None])
    if masks:
        np.savez_compressed(root / fmt.PIXEL_MASK_FILE,
                            **{n: np.broadcast_to(l[:, None, None] > 0, (len(l), 2, 2)) for n, l in labels.items()})
    return labels


def test_labels_in_text_order_are_refused_where_per_video_labels_show_it(tmp_path):
    _unpadded_dataset(tmp_path, ["1", "10", "2"], masks=True)
    dm = VideoDataModule(str(tmp_path), name="x", image_size=fr.SIZE)
    with pytest.raises(DataError, match=r"frame_labels_x.npy: the labels are concatenated in the test videos' "
                                        r"text order \(1, 10, 2\), not in their numeric order \(1, 2, 10\)"):
        dm.store("test")


def test_labels_in_numeric_order_are_confirmed_by_per_video_labels(tmp_path, caplog):
    labels = _unpadded_dataset(tmp_path, ["1", "2", "10"], masks=True)
    dm = VideoDataModule(str(tmp_path), name="x", image_size=fr.SIZE)
    with caplog.at_level("INFO"):
        dm.store("test")
    assert all(np.array_equal(dm.test_labels[n], labels[n]) for n in UNPADDED)
    assert dm.label_info["labels_order"] == ("labels concatenated in numeric name order (1, 2, 10), as the "
                                             f"per-video labels in {tmp_path / fmt.PIXEL_MASK_FILE} confirm")
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


@pytest.mark.parametrize("order", [["1", "2", "10"], ["1", "10", "2"]])
def test_without_per_video_labels_the_assumed_order_is_logged_and_warned(tmp_path, caplog, order):
    labels = _unpadded_dataset(tmp_path, order)
    dm = VideoDataModule(str(tmp_path), name="x", image_size=fr.SIZE)
    with caplog.at_level("INFO"):
        dm.store("test")
    assert dm.label_info["labels_order"] == "labels concatenated in numeric name order (1, 2, 10)"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "their text order (1, 10, 2) differs" in warnings[0]
    assert str(tmp_path / "frame_labels_x.npy") in warnings[0]
    # the split is the numeric one either way: video 2 gets frames 40..89 of the file
    assert np.array_equal(dm.test_labels["2"], np.concatenate([labels[n] for n in order])[40:90])


def test_zero_padded_names_need_no_warning(tmp_path, caplog):
    _unpadded_dataset(tmp_path, ["01", "02", "10"], names={"01": 40, "02": 50, "10": 60})
    dm = VideoDataModule(str(tmp_path), name="x", image_size=fr.SIZE)
    with caplog.at_level("INFO"):
        dm.store("test")
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    assert dm.label_info["labels_order"] == "labels concatenated in numeric name order (01, 02, 10)"


def test_intervals_matched_by_position_warn_where_the_text_order_differs(tmp_path, caplog):
    labels = _unpadded_dataset(tmp_path, ["1", "2", "10"])
    fr.write_interval_mat(tmp_path / "x.mat", [labels[n] for n in UNPADDED])
    dm = VideoDataModule(str(tmp_path), name="x", image_size=fr.SIZE, label_source="intervals")
    with caplog.at_level("INFO"):
        dm.store("test")
    assert dm.label_info["labels_order"] == "intervals matched to videos in numeric name order (1, 2, 10)"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "their text order (1, 10, 2) differs" in warnings[0]


def _partial_avenue(root, present: dict[str, int], labels_file: bool = True):
    """An Avenue release holding only the test videos ``present`` (published name -> frames), with the full
    published (1, 15324) frame-label file beside it (frame i labelled i % 3 == 0, so each slice is known)."""
    fr.avenue_release(root, [20], list(present.values()))
    for v, name in reversed(list(enumerate(present))):  # 01.avi -> its published name
        (root / "testing_videos" / f"{v + 1:02d}.avi").rename(root / "testing_videos" / f"{name}.avi")
    (root / "avenue.mat").unlink()
    import shutil
    shutil.rmtree(root / "ground_truth_demo")
    full = (np.arange(15324) % 3 == 0).astype(np.uint8)
    if labels_file:
        np.save(root / "frame_labels_avenue.npy", full[None])
    return full


def test_a_full_length_label_file_is_sliced_to_the_test_videos_present(tmp_path, caplog):
    """Issue 25: frame_labels_avenue.npy (all 21 test videos) beside 2 of them is sliced by their names."""
    from lnta.data.labels.known import KNOWN

    full = _partial_avenue(tmp_path, {"08": 36, "21": 76})
    dm = VideoDataModule(str(tmp_path), name="avenue", image_size=fr.SIZE)
    with caplog.at_level("INFO"):
        dm.check_test_early()
    starts = np.cumsum([0, *KNOWN["avenue"]["test"]["lengths"]])
    np.testing.assert_array_equal(dm.test_labels["08"], full[starts[7]:starts[8]])
    np.testing.assert_array_equal(dm.test_labels["21"], full[starts[20]:starts[21]])
    assert "sliced to the 2 test videos present, identified by their names (08, 21)" in caplog.text
    assert dm.label_info["labels_order"].startswith("sliced by video name from the full avenue test split")
    # an explicit data.labels is sliced the same way; a present video of another length is named
    (tmp_path / "frame_labels_avenue.npy").rename(tmp_path / "all.npy")
    dm = VideoDataModule(str(tmp_path), name="avenue", image_size=fr.SIZE, labels=str(tmp_path / "all.npy"))
    dm.check_test_early()
    np.testing.assert_array_equal(dm.test_labels["21"], full[starts[20]:])
    (tmp_path / "testing_videos" / "21.avi").rename(tmp_path / "testing_videos" / "20.avi")  # 76 frames, not 273
    dm = VideoDataModule(str(tmp_path), name="avenue", image_size=fr.SIZE, labels=str(tmp_path / "all.npy"))
    with pytest.raises(DataError, match="test video 20 has 76 frames and the published 20 has 273"):
        dm.check_test_early()


def test_a_full_length_label_file_is_refused_where_names_do_not_identify_the_videos(tmp_path):
    _partial_avenue(tmp_path, {"08": 36, "21": 76})
    (tmp_path / "testing_videos" / "21.avi").rename(tmp_path / "testing_videos" / "clip_b.avi")
    dm = VideoDataModule(str(tmp_path), name="avenue", image_size=fr.SIZE)
    with pytest.raises(DataError, match="15324 frame labels but the 2 test videos have 112 frames"):
        dm.check_test_early()


def test_mask_derived_labels_are_named_and_mat_files_read_once(tmp_path, monkeypatch, caplog):
    """Issue 25: the Avenue fallback to mask labels says so (they differ from the published interval labels),
    and every {N}_label.mat is parsed once per process, however often the labels are checked."""
    fr.avenue_release(tmp_path, [20], [20, 19])
    (tmp_path / "avenue.mat").unlink()
    reads = []
    real = fmt._loadmat
    monkeypatch.setattr(fmt, "_loadmat", lambda path: reads.append(path) or real(path))
    fmt._vollabel.cache_clear()
    dm = VideoDataModule(str(tmp_path), name="avenue", image_size=fr.SIZE)
    with caplog.at_level("INFO"):
        dm.check_test_early()
        dm.store("test")  # checks the labels against the decoded frames: no second parse, no second warning
        VideoDataModule(str(tmp_path), name="avenue", image_size=fr.SIZE).check_test_early()
    assert len(reads) == 2  # 1_label.mat, 2_label.mat
    assert dm.label_info["labels_from"] == "derived from pixel masks: a frame is anomalous where any mask pixel is set"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "pixel masks" in r.getMessage()]
    assert len(warnings) == 2 and "published Avenue numbers use the interval labels" in warnings[0]
    assert caplog.text.count("published frame counts not checked") == 2  # once per data module


def test_the_full_avenue_intervals_are_picked_for_the_test_videos_present(tmp_path, caplog):
    """avenue.mat holds the intervals of all 21 test videos; beside 2 of them, they are picked by name."""
    from lnta.data.labels.known import KNOWN

    full = _partial_avenue(tmp_path, {"08": 36, "21": 76}, labels_file=False)
    starts = np.cumsum([0, *KNOWN["avenue"]["test"]["lengths"]])
    per_video = [full[a:b] for a, b in zip(starts[:-1], starts[1:])]
    fr.write_interval_mat(tmp_path / "avenue.mat", per_video)
    dm = VideoDataModule(str(tmp_path), name="avenue", image_size=fr.SIZE)
    with caplog.at_level("INFO"):
        dm.check_test_early()
    assert dm.label_info["label_source"] == "intervals"
    np.testing.assert_array_equal(dm.test_labels["08"], per_video[7])
    np.testing.assert_array_equal(dm.test_labels["21"], per_video[20])
    assert "picked for the 2 test videos present, identified by their names (08, 21)" in caplog.text
