"""Clip index rules: normal, skip-frame (re-draw / clamp) and the scored frames."""
import numpy as np
import pytest

from lnta.data.sampling import (REFERENCE_CENTER, SKIP_REDRAWS, ClipIndex, clip_starts, normal_clip, runs,
                                scored_frames, skip_clip, skip_clip_pair)


class Draws:
    """A scripted randint: returns the queued values, records the bounds it was asked for."""

    def __init__(self, *values):
        self.values, self.bounds = list(values), []

    def __call__(self, n):
        self.bounds.append(n)
        value = self.values.pop(0)
        assert 0 <= value < n
        return value


def test_clip_starts_are_every_stride_one_start():
    assert clip_starts(20, 16).tolist() == [0, 1, 2, 3, 4]
    assert len(clip_starts(180, 16)) == 165
    assert len(clip_starts(15, 16)) == 0


def test_skip_clip_indices():
    assert skip_clip(3, 2, 16, 100).tolist() == list(range(3, 34, 2))
    assert skip_clip(0, 5, 16, 100).tolist() == list(range(0, 76, 5))


def test_skip_pair_when_long_enough_keeps_start():
    draws = Draws(1)  # picks skips[1] = 3
    skip_idx, target_idx, s = skip_clip_pair(10, [2, 3, 4, 5], 16, 120, draws)
    assert s == 3 and draws.bounds == [4]
    assert skip_idx.tolist() == [10 + 3 * i for i in range(16)]
    assert target_idx.tolist() == list(range(10, 26))


def test_skip_pair_boundary_is_inclusive_like_the_reference():
    # len < n + 15 s triggers a re-draw; n + 15 s == len does not (its last index is clamped).
    draws = Draws(0)
    skip_idx, _, _ = skip_clip_pair(45, [5], 16, 120, draws)
    assert draws.bounds == [1]  # only s was drawn: no re-draw
    assert skip_idx[-1] == 119 and skip_idx[-2] == 115


def test_skip_pair_redraws_start_then_succeeds():
    draws = Draws(0, 50, 7)  # s = 2; start 100 too late; redraw 50 too late (50+30 > 60); redraw 7 ok
    skip_idx, target_idx, s = skip_clip_pair(100, [2], 16, 60, draws)
    assert s == 2 and draws.bounds == [1, 60, 60]
    assert skip_idx.tolist() == [7 + 2 * i for i in range(16)]
    assert target_idx.tolist() == list(range(7, 23))


def test_skip_pair_clamps_after_ten_redraws():
    draws = Draws(0, *([20] * SKIP_REDRAWS))  # every redraw lands too late for s = 5 in 40 frames
    skip_idx, target_idx, _ = skip_clip_pair(20, [5], 16, 40, draws)
    assert len(draws.bounds) == 1 + SKIP_REDRAWS
    assert skip_idx.tolist() == [min(20 + 5 * i, 39) for i in range(16)]
    assert target_idx.tolist() == list(range(20, 36))


def test_normal_clip_is_clamped_to_last_frame():
    assert normal_clip(30, 16, 40).tolist() == [min(30 + i, 39) for i in range(16)]


def test_scored_frames_drop_first_eight_and_last_seven():
    frames = scored_frames(180, 16)
    assert REFERENCE_CENTER == 8
    assert frames[0] == 8 and frames[-1] == 180 - 8 and len(frames) == 180 - 15


def test_ped2_scored_frame_total_is_1830():
    lengths = [180, 180, 150, 180, 150, 180, 180, 180, 120, 150, 180, 180]
    assert sum(len(scored_frames(n, 16)) for n in lengths) == 1830
    assert sum(lengths) == 2010


def test_clip_index_is_every_clip_of_concatenated_videos():
    index = ClipIndex([18, 10, 16], 16)  # the middle video is too short for one clip
    assert index.videos.tolist() == [0, 0, 0, 2] and index.starts.tolist() == [0, 1, 2, 0]
    assert index.offsets.tolist() == [0, 18, 28] and index.rows.tolist() == [0, 1, 2, 28]
    assert index.videos.dtype == index.starts.dtype == np.int64 and len(index) == 4
    assert index.sample(10).tolist() == [0, 1, 2, 3]
    picked = index.sample(2, seed=3)
    assert len(set(picked.tolist())) == 2 and picked.tolist() == sorted(picked.tolist())
    assert len(ClipIndex([], 16)) == 0


def test_runs_of_ones_are_half_open_position_pairs():
    assert runs(np.array([1, 1, 0, 0, 1, 0, 1, 1, 1, 0])).tolist() == [[0, 2], [4, 5], [6, 9]]
    assert runs(np.array([0, 1, 1], np.uint8)).tolist() == [[1, 3]]
    assert runs(np.array([True, False])).tolist() == [[0, 1]]
    assert runs(np.zeros(4)).shape == (0, 2) and runs(np.ones(3)).tolist() == [[0, 3]]


def test_skip_pairs_say_how_many_skip_clips_are_clamped(caplog):
    """Issue 23 item 8: a skip that no video is long enough for is refused; a partial one is warned about."""
    from lnta.data.sampling import SkipPairs
    from lnta.errors import ConfigError

    # videos of 40 and 100 frames (25 and 85 clips of 16): s=2 needs 31 frames (both fit), s=5 needs 76
    # (only the 100-frame video fits: the 40-frame video's 25 of 110 clips clamp), s=7 needs 106 (none fit)
    assert SkipPairs([2]).clamped_share([40, 100], 16) == 0.0
    assert SkipPairs([5]).clamped_share([40, 100], 16) == pytest.approx(25 / 110)
    assert SkipPairs([2, 7]).clamped_share([40, 100], 16) == pytest.approx(0.5)
    SkipPairs([2]).check([40, 100], 16)
    assert not caplog.records
    with caplog.at_level("WARNING"):
        SkipPairs([2, 5]).check([40, 100], 16)
    assert "11% of skip clips are clamped" in caplog.text and "76 frames for s=5" in caplog.text
    with pytest.raises(ConfigError, match=r"skips=\[7\]: every skip clip would be clamped .*106 frames for s=7; the longest training video has 100"):
        SkipPairs([7]).check([40, 100], 16)
