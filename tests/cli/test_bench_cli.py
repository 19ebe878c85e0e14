"""The benchmark runs end to end and writes every figure (the numbers themselves live in docs). On the CPU
(``--device cpu``): lnta.bench defaults to CUDA where there is one."""
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
    result = run_cli("lnta.bench", "--quick", "--device", "cpu", "--size", "32", "--width", "0.125", "--repeats", "1",
                     "--loader-batches", "2", "--workers", "1", "--eval-batch", "2", "--matmul-n", "64",
                     "--out", str(out))
    bench = json.loads(out.read_text())
    assert set(KEYS) <= set(bench)
    for key in KEYS[:15]:
        assert isinstance(bench[key], float) and bench[key] > 0, key
    assert bench["image_size"] == 32 and bench["batch_size"] == 4 and bench["machine"]["torch"]
    assert bench["matmul_ladder_fp32"] == [[64, bench["peak_gflops_fp32"]]] and bench["matmul_n_bf16"] == 64
    load = bench["machine"]["load_average_1m_at_start"]  # what the busy-CPU warning reads (None: no OS figure)
    assert load is None or load >= 0
    assert bench["targets"] == "not at the paper's 16x256x256 size"
    assert "train_clips_per_s_fast" in result.stdout


TINY = ["--device", "cpu", "--size", "16", "--width", "0.125", "--repeats", "1", "--eval-batch", "2", "--matmul-n", "64"]


@pytest.mark.slow
def test_trials_write_rows_json_and_markdown(tmp_path):
    out = tmp_path / "trials.json"
    result = run_cli("lnta.bench", "--trials", "train:fast+cl_input,eval:fp32+jit_freeze", *TINY, "--out", str(out))
    trials = json.loads(out.read_text())
    assert [(r["kind"], r["trial"]) for r in trials["trials"]] == [
        ("train", "exact"), ("train", "fast+cl_input"), ("eval", "exact"), ("eval", "fp32+jit_freeze")]
    assert trials["peak_gflops_bf16"] > 0 and trials["gflop_per_clip_train"] > trials["gflop_per_clip_fwd"] > 0
    markdown = out.with_suffix(".md").read_text()
    assert markdown.count("\n| train |") == 2 and markdown.count("\n| eval |") == 2
    assert "| eval | fp32+jit_freeze |" in result.stdout


@pytest.mark.slow
def test_profile_writes_groups_and_top_ops(tmp_path):
    out = tmp_path / "profile.json"
    run_cli("lnta.bench", "--profile", *TINY, "--top", "3", "--out", str(out))
    profile = json.loads(out.read_text())["profile"]
    assert len(profile["train"]["top_ops"]) == 3 and len(profile["eval"]["groups"]) == 5
    assert "| end layers |" in out.with_suffix(".md").read_text()


@pytest.mark.slow
def test_bad_trial_name_is_one_line_exit_2():
    result = run_cli("lnta.bench", "--trials", "train:nope", check=False)
    assert result.returncode == 2 and "unknown trial train:nope" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_does_not_import_torch():
    """Issue 25 item 7: ``lnta-bench --help`` took 11.4 s, importing torch and Lightning to print its options.
    Asserted on what it imports (not a wall-clock bound): neither torch nor the measurements."""
    import subprocess
    import sys

    from tests.conftest import REPO

    probe = ("import runpy, sys\nsys.argv = ['lnta.bench', '--help']\ntry:\n"
             "    runpy.run_module('lnta.bench', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print('imported:', sorted(m for m in ('torch', 'lnta.benchmark.suite') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "--trials" in result.stdout and "imported: []" in result.stdout, result.stdout + result.stderr
