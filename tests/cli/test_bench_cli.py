"""The benchmark runs end to end and writes every figure (the numbers themselves live in docs)."""
import json

import pytest

from tests.conftest import run_cli

KEYS = ["peak_gflops_fp32", "peak_gflops_bf16", "gflop_per_clip_fwd", "gflop_per_clip_train",
        "train_clips_per_s_exact", "train_clips_per_s_fast", "eval_frames_per_s_exact", "eval_frames_per_s_fast",
        "loader_clips_per_s", "loader_clips_per_s_on_device", "anomaly_ms_patch", "anomaly_ms_skip",
        "train_step_ms_fast", "jpeg_ms_per_clip_reference", "ped2_epoch_speedup_est", "machine", "image_size",
        "batch_size", "targets"]


@pytest.mark.slow
def test_quick_bench_writes_every_key(tmp_path):
    out = tmp_path / "bench.json"
    result = run_cli("lnta.bench", "--quick", "--size", "32", "--width", "0.125", "--repeats", "1",
                     "--loader-batches", "2", "--workers", "1", "--eval-batch", "2", "--matmul-n", "64",
                     "--out", str(out))
    bench = json.loads(out.read_text())
    assert set(KEYS) <= set(bench)
    for key in KEYS[:15]:
        assert isinstance(bench[key], float) and bench[key] > 0, key
    assert bench["image_size"] == 32 and bench["batch_size"] == 4 and bench["machine"]["torch"]
    assert bench["targets"] == "not at the paper's 16x256x256 size"
    assert "train_clips_per_s_fast" in result.stdout
