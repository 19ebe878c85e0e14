"""The plan's estimate of what runs after training (issue 25 walk): calibration clips are counted where the
calibration samples them, the held-out videos of ``data=folder`` rather than the training clips."""
from types import SimpleNamespace

from lnta.callbacks.progress import _after_fit_clips
from lnta.data.datamodule import CalibrationClips


def _trainer(calibration_lengths, train_clips=100, test_lengths=None, clip_len=16):
    store = SimpleNamespace(lengths=calibration_lengths)
    dm = SimpleNamespace(clip_len=clip_len, train_set=[None] * train_clips, test_labels=test_lengths,
                         calibration_clips=lambda: CalibrationClips(store, "held-out clips", held_out=True))
    return SimpleNamespace(datamodule=dm)


def _module(max_clips, test_after_fit=False):
    return SimpleNamespace(config={"evaluation": {"calibration": {"max_clips": max_clips}},
                                   "test_after_fit": test_after_fit})


def test_calibration_clips_are_counted_from_the_held_out_videos():
    # held-out videos of 20 and 10 frames, 16-frame clips: 5 + 0 clips, not the 100 training clips
    assert _after_fit_clips(_trainer([20, 10]), _module(512)) == (5, 0)


def test_calibration_clips_are_capped_by_max_clips_and_tests_counted():
    labels = {"a": [0] * 18, "b": [0] * 15}  # 3 + 0 test clips
    assert _after_fit_clips(_trainer([400, 300], test_lengths=labels), _module(512, True)) == (512, 3)


def test_no_calibration_counts_nothing():
    assert _after_fit_clips(_trainer([400]), _module(0)) == (0, 0)
