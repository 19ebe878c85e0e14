"""Pixel-level AUC: error-map sampling, mask checks, and the option end to end on tiny data."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lnta.errors import DataError
from lnta.trainer.slots import claim_slot
from lnta.metrics.pixel import PixelScorer, load_pixel_masks, sample_error_maps
from tests.conftest import run_cli
from tests.helpers.by_hand import frame_aucs, pair_auc, sampled_error_maps


def test_error_maps_are_resized_to_the_mask_then_strided():
    error = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(2, 4, 4)
    out = sample_error_maps(error, (8, 8), stride=2)
    assert out.shape == (2, 4, 4) and out.dtype == torch.float16
    constant = sample_error_maps(torch.full((1, 4, 4), 3.0), (6, 9), stride=4)
    assert constant.shape == (1, 2, 3) and torch.all(constant == 3)


def test_pixel_auc_on_hand_made_maps_and_masks(tmp_path):
    """Error maps at the mask size (so resizing is the identity), read every 2nd row and column: the 8
    pixels on that grid of video 01's two scored frames are ranked against their mask. Every pixel off
    the grid has error 100 and mask False: reading maps and masks off the same grid would count them."""
    grid = {0: [[0.1, 0.9], [0.2, 0.3]], 1: [[0.4, 0.5], [0.05, 0.6]]}   # (frame: errors at rows/cols 0, 2)
    masks = np.zeros((2, 4, 4), bool)
    masks[0, 0, 2] = masks[1, 2, 2] = masks[1, 0, 0] = True             # positives 0.9, 0.6, 0.4
    np.savez(tmp_path / "m.npz", **{"01": masks})
    scorer = PixelScorer(tmp_path / "m.npz", stride=2)
    module = SimpleNamespace(device=torch.device("cpu"), trainer=SimpleNamespace(world_size=1))
    scorer.on_test_epoch_start(None, module)
    for frame in (1, 0):  # out of order: the scorer sorts by (video, frame)
        error = torch.full((1, 4, 4), 100.0)
        error[0, ::2, ::2] = torch.tensor(grid[frame])
        outputs = {"error": error, "video": torch.tensor([0]), "frame": torch.tensor([frame])}
        scorer.on_test_batch_end(None, module, outputs, None, 0)
    scorer.on_test_epoch_end(None, module)
    metrics = scorer.compute(["01"], [2])
    # pairs (positive above negative) over 3 x 5: 0.9 and 0.6 above all five {0.1, 0.2, 0.3, 0.5, 0.05},
    # 0.4 above four of them (not 0.5)
    assert metrics["pixel_auc"] == pytest.approx(14 / 15) and metrics["pixel_count"] == 8


def test_masks_must_cover_every_test_video_and_frame(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, **{"01": np.zeros((5, 4, 6), bool)})
    assert load_pixel_masks(path, ["01"], [5])["01"].shape == (5, 4, 6)
    with pytest.raises(DataError, match="no masks for test videos"):
        load_pixel_masks(path, ["01", "02"], [5, 5])
    with pytest.raises(DataError, match="one per frame"):
        load_pixel_masks(path, ["01"], [6])


def test_gpu_slots_are_exclusive_per_process(tmp_path):
    assert claim_slot(2, tmp_path) == claim_slot(2, tmp_path)  # a process keeps its slot
    import subprocess
    import sys
    code = f"from lnta.trainer.slots import claim_slot; print(claim_slot(2, {str(tmp_path)!r}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(other.stdout) == 1 - claim_slot(2, tmp_path)


@pytest.mark.slow
def test_pixel_auc_is_reported_beside_the_frame_auc(tmp_path, tiny):
    run_cli("lnta.train", *tiny, "test_after_fit=false")
    labels = np.load(tmp_path / "synthetic" / "frame_labels_synthetic.npy").ravel().astype(bool)
    masks = np.zeros((80, 24, 36), bool)  # a mask size unlike the 32 px model size
    masks[labels, :, 18:] = True
    path = tmp_path / "masks.npz"
    np.savez(path, **{"01": masks[:40], "02": masks[40:]})
    run_cli("lnta.eval", f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}", f"evaluation.pixel_masks={path}",
            "evaluation.pixel_stride=3", f"hydra.run.dir={tmp_path / 'eval'}", "trainer.enable_progress_bar=false",
            "precision=exact")  # fp32 on every machine kind, as the computation by hand below
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["pixel_count"] == metrics["n_frames_scored"] * 8 * 12
    assert "1 pixel in 3" in metrics["pixel_auc_rule"]
    assert metrics["auc_micro"] == pytest.approx(frame_aucs(tmp_path / "eval" / "scores.csv")[0], abs=1e-3)
    errors, labels, _, _ = sampled_error_maps(tmp_path / "run" / "checkpoints" / "last.ckpt",
                                              {"01": masks[:40], "02": masks[40:]}, size=(24, 36), stride=3)
    assert metrics["pixel_auc"] == pytest.approx(pair_auc(errors.ravel(), labels.ravel()), abs=1e-4)  # 1e-4: another
    # process's float rounding; a mask read one frame off moves it by far more
