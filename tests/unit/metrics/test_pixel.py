"""Pixel-level AUC: error-map sampling, mask checks, and the option end to end on tiny data."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lnta.errors import DataError
from lnta.trainer.slots import claim_slot
from lnta.metrics.pixel import load_pixel_masks, sample_error_maps
from tests.conftest import run_cli


def test_error_maps_are_resized_to_the_mask_then_strided():
    error = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(2, 4, 4)
    out = sample_error_maps(error, (8, 8), stride=2)
    assert out.shape == (2, 4, 4) and out.dtype == torch.float16
    constant = sample_error_maps(torch.full((1, 4, 4), 3.0), (6, 9), stride=4)
    assert constant.shape == (1, 2, 3) and torch.all(constant == 3)


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
            "evaluation.pixel_stride=3", f"hydra.run.dir={tmp_path / 'eval'}", "trainer.enable_progress_bar=false")
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["pixel_count"] == metrics["n_frames_scored"] * 8 * 12
    assert 0.0 <= metrics["pixel_auc"] <= 1.0 and "1 pixel in 3" in metrics["pixel_auc_rule"]
    assert 0.0 <= metrics["auc_micro"] <= 1.0
