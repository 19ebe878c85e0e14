"""The prepared cache: exact round trip, memory-mapped, and verified before it is kept."""
import numpy as np
import pytest

from tests.helpers import fake_releases as fr
from lnta.benchmark.loader import ReadingStore, loader_clips_per_s
from lnta.data.datamodule import VideoDataModule
from lnta.data.labels.known import check_known
from lnta.data.io.store import FrameStore
from lnta.errors import DataError


def _dm(root, name="ped2", **kwargs):
    return VideoDataModule(str(root), name=name, image_size=fr.SIZE, cache_dir=str(root / "cache"), **kwargs)


def _no_cache_left(root):
    return not (root / "cache").exists() or not any((root / "cache").iterdir())


@pytest.mark.parametrize("release", ["ucsd", "avenue"])
def test_cache_round_trips_exactly_and_is_memory_mapped(tmp_path, release):
    if release == "ucsd":
        fr.ucsd_release(tmp_path, [20, 18], [20, 19])
    else:
        fr.avenue_release(tmp_path, [20, 18], [20, 19])
    decoded = {split: _dm(tmp_path).store(split) for split in ("train", "test")}
    path = _dm(tmp_path).prepare_cache()
    assert path == tmp_path / "cache" / f"{fr.SIZE[0]}x{fr.SIZE[1]}"
    dm = _dm(tmp_path)
    for split, expected in decoded.items():
        store = dm.store(split)
        assert isinstance(store.frames, np.memmap)
        assert store.names == expected.names and store.lengths == expected.lengths
        np.testing.assert_array_equal(store.frames, expected.frames)
        np.testing.assert_array_equal(store.gather(1, np.array([3, 0])), expected.gather(1, np.array([3, 0])))


def test_cache_at_another_size_is_refused(tmp_path):
    fr.frames_layout(tmp_path, "ped2", [20], [20])
    _dm(tmp_path).prepare_cache()
    (tmp_path / "cache" / "16x16").symlink_to(tmp_path / "cache" / f"{fr.SIZE[0]}x{fr.SIZE[1]}")
    with pytest.raises(DataError, match=r"index.json: cache version/size .* re-run python -m lnta.prepare"):
        VideoDataModule(str(tmp_path), image_size=16, cache_dir=str(tmp_path / "cache")).store("train")


def test_misaligned_labels_fail_with_both_counts_and_leave_no_cache(tmp_path):
    labels = fr.frames_layout(tmp_path, "ped2", [20], [20, 19])
    np.save(tmp_path / "frame_labels_ped2.npy", np.concatenate(labels)[None, :-1])
    with pytest.raises(DataError, match="38 frame labels but the 2 test videos have 39 frames"):
        _dm(tmp_path).prepare_cache()
    assert _no_cache_left(tmp_path)


def test_per_video_mismatch_names_the_video(tmp_path):
    fr.shanghaitech_release(tmp_path, [20], {"01_0014": 20, "02_0001": 30})
    np.save(tmp_path / "testing" / "test_frame_mask" / "02_0001.npy", np.zeros(31, np.uint8))
    with pytest.raises(DataError, match="video 02_0001 has 30 frames but its labels have 31"):
        _dm(tmp_path, "shanghaitech").prepare_cache()
    assert _no_cache_left(tmp_path)


def test_missing_video_is_an_error(tmp_path):
    fr.avenue_release(tmp_path, [20], [20, 19, 18])
    (tmp_path / "testing_videos" / "02.avi").unlink()
    with pytest.raises(DataError, match=r"avenue\.mat: intervals for 3 videos but the test split has 2 videos"):
        _dm(tmp_path, "avenue").prepare_cache()
    (tmp_path / "ground_truth_demo" / "testing_label_mask" / "3_label.mat").unlink()  # masks match by name
    with pytest.raises(DataError, match=r"testing_label_mask: no labels for test video 03 \(1 of 2 videos"):
        _dm(tmp_path, "avenue", label_source="masks").prepare_cache()
    assert _no_cache_left(tmp_path)


def test_corrupt_frame_is_named_and_leaves_no_cache(tmp_path):
    fr.ucsd_release(tmp_path, [20], [20])
    bad = tmp_path / "UCSDped2" / "Train" / "Train001" / "007.tif"
    bad.write_bytes(bad.read_bytes()[:40])
    with pytest.raises(DataError, match=r"Train001/007\.tif: unreadable or corrupt image"):
        _dm(tmp_path).prepare_cache()
    assert _no_cache_left(tmp_path)


def test_unreadable_video_is_named_and_leaves_no_cache(tmp_path):
    fr.shanghaitech_release(tmp_path, [20, 18], {"01_0014": 20})
    (tmp_path / "training" / "videos" / "01_002.avi").write_bytes(b"not a video" * 100)
    with pytest.raises(DataError, match=r"01_002\.avi: unreadable or corrupt video"):
        _dm(tmp_path, "shanghaitech").prepare_cache()
    assert _no_cache_left(tmp_path)


def test_known_counts_are_checked_where_recognised():
    lengths = [180, 180, 150, 180, 150, 180, 180, 180, 120, 150, 180, 180]
    names = [f"{v:02d}" for v in range(1, 13)]
    assert check_known("ped2", "test", names, lengths, "root")
    with pytest.raises(DataError, match="root: ped2 test video 03 has 149 frames, the published count is 150"):
        check_known("ped2", "test", names, lengths[:2] + [149] + lengths[3:], "root")
    assert not check_known("ped2", "test", names[:2], lengths[:2], "root")  # a subset: not recognised
    assert not check_known("synthetic", "test", names, lengths, "root")


def test_store_gather_reads_the_right_frames(tmp_path):
    fr.frames_layout(tmp_path, "ped2", [20, 30], [20])
    store = FrameStore.decode(_dm(tmp_path).videos("train"), fr.SIZE)
    index, number = fr.decode_index(store.gather(1, np.array([29, 0, 7])))
    assert index.tolist() == [29, 0, 7] and number.tolist() == [2, 2, 2]


def test_bench_reads_the_same_clips_from_files_and_cache(tmp_path):
    fr.frames_layout(tmp_path, "ped2", [40, 30], [20])
    dm = _dm(tmp_path)
    dm.prepare_cache()
    cached, reading = dm.store("train"), ReadingStore(dm.videos("train"), fr.SIZE)
    assert reading.lengths == cached.lengths
    np.testing.assert_array_equal(reading.gather(1, np.arange(5, 21)), cached.gather(1, np.arange(5, 21)))
    for source in ("cache", "frames"):
        rate = loader_clips_per_s(tmp_path, source, num_workers=0, image_size=fr.SIZE, batches=3,
                                  cache_dir=str(tmp_path / "cache"))
        assert rate > 0
