"""data=folder: which entries are videos, which training videos are held out, and the one-line errors."""
import logging

import numpy as np
import pytest

from lnta.data.folder import (FolderDataModule, check_holdout, find_videos, frame_rates, holdout_count,
                              holdout_positions)
from lnta.errors import ConfigError, DataError
from tests.helpers import fake_releases as fr


def _touch(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_find_videos_takes_video_files_and_frame_folders_in_numeric_order(tmp_path, caplog):
    for name in ("cam10.MP4", "cam2.mp4", "cam1.avi", "notes.txt", "labels.npy", "readme.pdf", ".hidden.mp4",
                 "._cam3.mp4", "day3/0001.png", "day3/0002.png", "cam4_gt/001.bmp", "empty_dir/notes.txt",
                 "lnta_cache/64x64/train.u8", "__MACOSX/cam5.mp4"):
        _touch(tmp_path / name)
    with caplog.at_level(logging.WARNING, logger="lnta.data.folder"):
        videos = find_videos(tmp_path, exclude=(tmp_path / "lnta_cache",))
    # by the numbers in the name: cam1 < cam2 < cam10 < day3; the suffix's case does not matter
    assert videos == [("cam1", tmp_path / "cam1.avi"), ("cam2", tmp_path / "cam2.mp4"),
                      ("cam10", tmp_path / "cam10.MP4"), ("day3", tmp_path / "day3")]
    # one warning, naming what was skipped and is neither hidden, metadata, a mask folder nor a label/text file
    assert len(caplog.records) == 1
    assert "2 entries are not videos and are skipped: empty_dir/, readme.pdf" in caplog.records[0].getMessage()


def test_find_videos_errors_are_one_line_naming_the_folder(tmp_path):
    with pytest.raises(DataError, match=r"^data.root=\S+/missing: folder not found \(expected a folder of video files"):
        find_videos(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    _touch(tmp_path / "empty" / ".DS_Store")  # hidden: the folder counts as empty
    with pytest.raises(DataError, match=r"^data.root=\S+/empty: the folder is empty \(expected video files"):
        find_videos(tmp_path / "empty")
    _touch(tmp_path / "docs" / "a.pdf")
    (tmp_path / "docs" / "sub").mkdir()
    with pytest.raises(DataError, match=r"^data.test_root=\S+/docs: no videos found among its 2 entries "
                                        r"\(a.pdf, sub\)"):
        find_videos(tmp_path / "docs", "data.test_root")
    _touch(tmp_path / "dup" / "a.mp4"), _touch(tmp_path / "dup" / "a.avi")
    with pytest.raises(DataError, match=r"two videos named a \(a.avi and a.mp4\); rename one"):
        find_videos(tmp_path / "dup")


@pytest.mark.parametrize("holdout,videos,count", [
    (0, 5, 0), (1, 2, 1), (2, 5, 2),          # a number of videos is taken as it is
    (0.2, 10, 2), (0.2, 5, 1), (0.2, 3, 1),   # a fraction: f * n rounded half up ...
    (0.25, 10, 3), (0.7, 10, 7),              # ... 2.5 -> 3; 0.7 * 10 is 7.000000000000001 in floats -> 7
    (0.1, 3, 1), (0.01, 2, 1),                # ... and at least one
])
def test_holdout_count(holdout, videos, count):
    assert holdout_count(holdout, videos) == count


@pytest.mark.parametrize("holdout,videos", [(1, 1), (3, 3), (0.2, 1), (0.9, 2), (0.5, 1)])
def test_holdout_must_leave_a_training_video(holdout, videos):
    with pytest.raises(DataError, match=rf"data.holdout={holdout} holds out \d+ of its {videos} training video"):
        holdout_count(holdout, videos)


@pytest.mark.parametrize("holdout", [-1, 1.0, 1.5, -0.2, True, "0.2", None])
def test_holdout_values_out_of_range_are_refused(holdout):
    with pytest.raises(ConfigError, match=rf"^data.holdout={holdout}: expected 0 .*, a number of training videos"):
        check_holdout(holdout)


@pytest.mark.parametrize("count,videos,positions", [
    (1, 5, [2]),            # 5 // 2: the middle video
    (1, 2, [1]),            # 2 // 2
    (2, 10, [2, 7]),        # 10 // 4, 30 // 4
    (2, 4, [1, 3]),         # 4 // 4, 12 // 4
    (3, 10, [1, 5, 8]),     # 10 // 6, 30 // 6, 50 // 6
    (4, 5, [0, 1, 3, 4]),   # 5 // 8, 15 // 8, 25 // 8, 35 // 8
    (0, 7, []),
])
def test_holdout_positions_are_the_middles_of_equal_parts(count, videos, positions):
    assert holdout_positions(count, videos) == positions


def _module(root, **kwargs):
    return FolderDataModule(root=str(root), image_size=32, clip_len=16, **kwargs)


def test_held_out_videos_are_not_trained_on_and_are_what_calibration_samples(tmp_path):
    fr.own_footage(tmp_path / "videos", [20, 21, 22, 23, 24], kind="frames")
    module = _module(tmp_path / "videos", holdout=0.2)  # round(0.2 * 5) = 1 video: position 5 // 2 = 2, cam3
    assert [n for n, _ in module.videos("train")] == ["cam1", "cam2", "cam4", "cam5"]
    assert [n for n, _ in module.videos("holdout")] == ["cam3"]
    assert module.store("train").lengths == [20, 21, 23, 24]
    clips = module.calibration_clips()
    assert clips.held_out and clips.store.names == ["cam3"] and clips.store.lengths == [22]
    assert clips.what == "clips of 1 held-out video(s) (cam3)"
    index, video = fr.decode_index(clips.store.frames)  # the very frames of cam3, in order
    assert np.array_equal(index, np.arange(22)) and set(video.tolist()) == {3}
    assert module.cached_splits() == ["train", "holdout"]  # no test videos: no test split, none cached
    assert not module.reads_test()


def test_fit_setup_decodes_the_held_out_videos_before_training(tmp_path):
    # a fault in a held-out video must stop the run before training, not after it; and the plan's estimate
    # then counts the held-out clips (CalibrationClips.count) without decoding anything mid-training
    fr.own_footage(tmp_path / "videos", [20, 21, 22, 23, 24], kind="frames")
    module = _module(tmp_path / "videos", holdout=0.2)
    module.setup("fit")
    assert set(module._stores) == {"train", "holdout"}
    assert module.calibration_clips().count(16, 512) == 22 - 16 + 1


def test_without_holdout_calibration_uses_the_training_clips(tmp_path):
    fr.own_footage(tmp_path / "videos", [20, 20], kind="frames")
    module = _module(tmp_path / "videos", holdout=0)
    clips = module.calibration_clips()
    assert not clips.held_out and clips.what == "training clips" and clips.store is module.store("train")
    assert module.videos("holdout") == [] and module.cached_splits() == ["train"]


def test_cache_and_test_folders_inside_the_root_are_not_training_videos(tmp_path):
    root = tmp_path / "videos"
    fr.own_footage(root, [20, 20], kind="frames")
    fr.own_footage(root / "test", [20], kind="frames", first=7)
    fr.own_footage(root / "lnta_cache", [20], kind="frames", first=8)  # a cache folder, whatever it holds
    np.save(root / "test" / "cam7.npy", fr.anomaly_labels(20))
    module = _module(root, holdout=0, test_root=str(root / "test"))
    assert [n for n, _ in module.videos("train")] == ["cam1", "cam2"]
    assert [n for n, _ in module.videos("test")] == ["cam7"] and module.reads_test()
    module.check_test_early()  # per-video labels beside the test videos, checked against the frame counts
    assert np.array_equal(module.test_labels["cam7"], fr.anomaly_labels(20))
    assert module.cached_splits() == ["train", "test"]


def test_test_labels_in_a_file(tmp_path):
    fr.own_footage(tmp_path / "videos", [20, 20], kind="frames")
    fr.own_footage(tmp_path / "test", [18, 21], kind="frames")
    labels = [fr.anomaly_labels(18), fr.anomaly_labels(21)]
    np.save(tmp_path / "labels.npy", np.concatenate(labels))  # concatenated in name order
    module = _module(tmp_path / "videos", holdout=1, test_root=str(tmp_path / "test"),
                     labels=str(tmp_path / "labels.npy"))
    module.check_test_early()
    assert [module.test_labels[n].tolist() for n in ("cam1", "cam2")] == [x.tolist() for x in labels]


def test_test_and_label_errors_are_one_line(tmp_path):
    fr.own_footage(tmp_path / "videos", [20, 20], kind="frames")
    fr.own_footage(tmp_path / "test", [20], kind="frames")
    with pytest.raises(DataError, match=r"^data.test_root=\S+/test: no test labels .*; set data.labels=FILE"):
        _module(tmp_path / "videos", test_root=str(tmp_path / "test")).check_test_early()
    with pytest.raises(DataError, match=r"^data.test_root is not set: data=folder has no test videos"):
        _module(tmp_path / "videos").videos("test")
    with pytest.raises(ConfigError, match=r"^data.test=true but data.test_root is not set"):
        _module(tmp_path / "videos", test=True)
    with pytest.raises(ConfigError, match=r"^data.test_root=\S+/videos is data.root: the test videos would be"):
        _module(tmp_path / "videos", test_root=str(tmp_path / "videos" / "." ))
    with pytest.raises(ConfigError, match=r"^data.holdout=2.5: expected"):
        _module(tmp_path / "videos", holdout=2.5)
    with pytest.raises(DataError, match=r"^data.root=\S+/videos: data.holdout=2 holds out 2 of its 2 training"):
        _module(tmp_path / "videos", holdout=2).videos("train")
    with pytest.raises(DataError, match=r"^data.root=\S+/nowhere: folder not found"):
        _module(tmp_path / "nowhere").videos("train")


def test_an_unreadable_video_file_is_named(tmp_path):
    fr.own_footage(tmp_path / "videos", [20], kind="frames")
    _touch(tmp_path / "videos" / "cam9.mp4", "not a video")
    module = _module(tmp_path / "videos", holdout=0, backend="pyav")
    with pytest.raises(DataError, match=r"cam9.mp4: unreadable or corrupt video") as error:
        module.store("train")
    assert "\n" not in str(error.value)


def test_frame_rates_are_read_from_the_headers_and_a_mix_is_warned(tmp_path, caplog):
    fr.write_mp4(tmp_path / "cam1.mp4", fr.video_frames(4, 1, (16, 16)), fps=25)
    fr.write_mp4(tmp_path / "cam2.mp4", fr.video_frames(4, 2, (16, 16)), fps=10)
    fr.write_mp4(tmp_path / "cam3.mp4", fr.video_frames(4, 3, (16, 16)), fps=25)
    fr.own_footage(tmp_path, [4], size=(16, 16), kind="frames", first=4)  # a frame folder has no rate
    videos = find_videos(tmp_path)
    with caplog.at_level(logging.WARNING, logger="lnta.data.folder"):
        assert frame_rates(videos[:1] + videos[2:]) == {"25 fps": ["cam1", "cam3"]}
        assert not caplog.records
        assert frame_rates(videos) == {"25 fps": ["cam1", "cam3"], "10 fps": ["cam2"]}
    assert len(caplog.records) == 1
    assert "data.root: the videos have 2 frame rates (25 fps: cam1, cam3; 10 fps: cam2)" in caplog.records[0].getMessage()
