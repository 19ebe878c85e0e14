"""The mechanism measure: region maps, per-region errors and the scorer, on hand-made cases."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lnta.data.labels.formats import ANOMALY, BACKGROUND, FOREGROUND
from lnta.errors import DataError
from lnta.metrics.mechanism import (EXCLUDED, FOREGROUND_THRESHOLD, MechanismScorer, coverage, estimate_foreground,
                                    region_errors, region_maps)
from tests.conftest import run_cli


def test_area_coverage_of_a_mask_at_a_smaller_size():
    mask = np.zeros((1, 4, 4), bool)
    mask[0, :2, :2] = True           # the top-left model pixel, fully
    mask[0, 2, 2] = True             # a quarter of the bottom-right one
    assert coverage(mask, (2, 2)).tolist() == [[[1.0, 0.0], [0.0, 0.25]]]
    assert coverage(mask, (4, 4)).tolist() == mask.astype(np.float32).tolist()  # same size: unchanged


def test_regions_give_anomaly_priority_and_leave_partial_pixels_out():
    anomaly = np.array([[[1.0, 0.5, 0.25, 0.0, 0.0, 0.0]]])
    moving = np.array([[[0.0, 1.0, 1.0, 1.0, 0.5, 0.0]]])
    assert region_maps(anomaly, moving).tolist() == [[[ANOMALY, ANOMALY, EXCLUDED, FOREGROUND, FOREGROUND, BACKGROUND]]]
    assert region_maps(np.zeros((1, 1, 1)), np.array([[[0.25]]])).tolist() == [[[EXCLUDED]]]


def test_region_errors_are_pixel_means_with_their_psnr_and_the_gap():
    errors = np.array([[[0.1, 0.1, 0.01, 0.001, 0.001, 5.0]]], np.float32)
    regions = np.array([[[ANOMALY, ANOMALY, FOREGROUND, BACKGROUND, BACKGROUND, EXCLUDED]]], np.uint8)
    out = region_errors(errors, regions)
    assert out["pixels"] == {"anomaly": 2, "foreground": 1, "background": 2}
    assert out["anomaly_mse"] == pytest.approx(0.1) and out["anomaly_psnr"] == pytest.approx(10.0)
    assert out["foreground_psnr"] == pytest.approx(20.0) and out["background_psnr"] == pytest.approx(30.0)
    assert out["gap_db"] == pytest.approx(10.0)   # anomalies 10x the error of normal foreground
    empty = region_errors(errors, np.full(errors.shape, BACKGROUND, np.uint8))
    assert np.isnan(empty["anomaly_mse"]) and np.isnan(empty["gap_db"]) and empty["pixels"]["anomaly"] == 0


def test_foreground_is_what_differs_from_the_video_median():
    frames = np.full((3, 1, 4), -0.5, np.float32)
    frames[0, 0, 0] = frames[1, 0, 1] = frames[2, 0, 2] = 0.5   # a bright dot moving right
    frames[:, 0, 3] += 0.9 * FOREGROUND_THRESHOLD * np.array([0, 0, 1])  # a change below the threshold
    other = np.full((2, 1, 4), 0.7, np.float32)  # a second video, constant: its own median
    moving = estimate_foreground(np.concatenate([frames, other]), np.array([0, 0, 0, 1, 1]))
    assert moving[:3, 0].tolist() == [[True, False, False, False], [False, True, False, False],
                                      [False, False, True, False]]
    assert not moving[3:].any()


def _outputs(error, inputs, video, frame):
    return {"error": torch.tensor(error), "input": torch.tensor(inputs), "video": torch.tensor(video),
            "frame": torch.tensor(frame)}


def test_scorer_with_exact_region_maps(tmp_path):
    regions = np.zeros((3, 2, 2), np.uint8)
    regions[1] = [[ANOMALY, FOREGROUND], [BACKGROUND, BACKGROUND]]
    regions[2] = [[FOREGROUND, BACKGROUND], [BACKGROUND, BACKGROUND]]
    np.savez(tmp_path / "region_masks.npz", **{"01": regions})
    scorer = MechanismScorer(tmp_path / "region_masks.npz")
    module = SimpleNamespace(trainer=SimpleNamespace(world_size=1))
    scorer.on_test_epoch_start(None, module)
    # scored frames 1 and 2 of video 0, in two batches (out of order, as a sampler may deliver them)
    scorer.on_test_batch_end(None, module, _outputs([[[0.0, 0.0], [0.001, 0.001]]], np.zeros((1, 2, 2), np.float32),
                                                    [0], [2]), None, 0)
    scorer.on_test_batch_end(None, module, _outputs([[[0.1, 0.01], [0.001, 0.001]]], np.zeros((1, 2, 2), np.float32),
                                                    [0], [1]), None, 1)
    scorer.on_test_epoch_end(None, module)
    out = scorer.compute(["01"], [3])["mechanism"]
    assert out["pixels"] == {"anomaly": 1, "foreground": 2, "background": 5}
    assert out["anomaly_psnr"] == pytest.approx(10.0, abs=2e-3)      # 0.1 (float16 storage: 1e-3 dB)
    assert out["foreground_mse"] == pytest.approx(0.005, rel=1e-3)   # (0.01 + 0.0) / 2
    assert out["background_mse"] == pytest.approx(0.0008, rel=1e-3)  # (4 x 0.001 + 0.0) / 5
    assert out["per_video"]["01"]["pixels"] == out["pixels"] and out["foreground_rule"].startswith("exact")
    with pytest.raises(DataError, match="one per frame"):
        scorer.compute(["01"], [4])


def test_scorer_with_pixel_masks_estimates_the_foreground(tmp_path):
    masks = np.zeros((2, 4, 4), bool)
    masks[0, :2, :2] = True                # the anomaly: the top-left model pixel of frame 0 (mask at 2x size)
    np.savez(tmp_path / "pixel_gt_masks.npz", **{"01": masks})
    inputs = np.full((2, 2, 2), -0.5, np.float32)
    inputs[0, 1, 1], inputs[1, 0, 1] = 0.5, 0.5   # a moving object elsewhere: frames 0 and 1 differ there
    error = np.full((2, 2, 2), 0.001, np.float32)
    error[0, 0, 0], error[0, 1, 1], error[1, 0, 1] = 0.1, 0.01, 0.01
    scorer = MechanismScorer(tmp_path / "pixel_gt_masks.npz")
    module = SimpleNamespace(trainer=SimpleNamespace(world_size=1))
    scorer.on_test_epoch_start(None, module)
    scorer.on_test_batch_end(None, module, _outputs(error, inputs, [0, 0], [0, 1]), None, 0)
    scorer.on_test_epoch_end(None, module)
    out = scorer.compute(["01"], [2])["mechanism"]
    # the median of two frames is their mean: both object pixels differ from it by 0.5 > threshold
    assert out["pixels"] == {"anomaly": 1, "foreground": 4, "background": 3}
    assert out["anomaly_psnr"] == pytest.approx(10.0, abs=2e-3)
    # foreground: (0.01 + 0.001) in frame 0 (object, and its old place in frame 1 seen from frame 0) and same in 1
    assert out["foreground_mse"] == pytest.approx((0.01 + 0.001 + 0.001 + 0.01) / 4, rel=1e-3)
    assert out["foreground_rule"].startswith("estimated")


def test_the_stride_keeps_at_most_max_side_pixels_per_axis(tmp_path):
    np.savez(tmp_path / "region_masks.npz", **{"01": np.zeros((1, 8, 8), np.uint8)})
    scorer = MechanismScorer(tmp_path / "region_masks.npz", max_side=3)
    module = SimpleNamespace(trainer=SimpleNamespace(world_size=1))
    scorer.on_test_epoch_start(None, module)
    scorer.on_test_batch_end(None, module, _outputs(np.ones((1, 8, 8), np.float32), np.zeros((1, 8, 8), np.float32),
                                                    [0], [0]), None, 0)
    scorer.on_test_epoch_end(None, module)
    out = scorer.compute(["01"], [1])["mechanism"]
    assert scorer.stride == 3 and out["pixels"]["background"] == 9 and "1 pixel in 3" in out["rule"]


@pytest.mark.slow
def test_synthetic_runs_report_the_mechanism_from_the_generators_masks(tmp_path, tiny):
    run_cli("lnta.train", *tiny)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    mech = metrics["mechanism"]
    assert mech["foreground_rule"].startswith("exact") and mech["masks"].endswith("region_masks.npz")
    # every scored pixel is in exactly one region or excluded; the tiny data have walkers and intruders
    assert sum(mech["pixels"].values()) <= metrics["n_frames_scored"] * 32 * 32
    assert mech["pixels"]["anomaly"] > 0 and mech["pixels"]["foreground"] > 0
    assert mech["gap_db"] == pytest.approx(10 * np.log10(mech["anomaly_mse"] / mech["foreground_mse"]))
    assert set(mech["per_video"]) == {"01", "02"} and "pixel_auc" in metrics  # the generator's pixel masks too
