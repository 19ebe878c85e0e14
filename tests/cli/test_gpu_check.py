"""The GPU readiness check (experiments/gpu_check): its arguments and table here, and a --tiny CPU run end to end."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, cli_env

sys.path.insert(0, str(REPO / "experiments" / "gpu_check"))
import gpu_check  # noqa: E402

#: (step, rows) of a full check, in order
ROWS_PER_STEP = {"env": 1, "data": 1, "bench_b4": 5, "bench_b32": 5, "on_device": 1, "ddp": 2, "train": 3,
                 "eval": 2, "compile": 4, "estimate": 2}


def test_defaults_are_the_h200_check(tmp_path):
    plan = gpu_check.parse_args(["--synthetic", "--out", str(tmp_path)])
    assert (plan.size, plan.width, plan.budget_s, plan.total_s) == (256, 1.0, 240.0, 480.0)
    assert plan.compile_backend == "inductor" and plan.paper_scale and plan.only == gpu_check.STEPS
    assert plan.data_root == tmp_path / "data" / "synthetic_256"
    assert plan.synthetic_spec["train_videos"] == 16 and plan.bench_flags == ()


def test_tiny_picks_cpu_smoke_sizes_and_flags_still_win(tmp_path):
    plan = gpu_check.parse_args(["--tiny", "--data", str(tmp_path), "--budget-s", "7"])
    assert (plan.size, plan.width, plan.budget_s, plan.compile_backend) == (32, 0.125, 7.0, "aot_eager")
    assert plan.data == tmp_path.resolve() and plan.data_root == tmp_path.resolve() and not plan.paper_scale
    assert plan.short_steps < 10 and "--repeats" in plan.bench_flags
    assert set(plan.timeouts) == set(gpu_check.STEPS)


@pytest.mark.parametrize("argv, message", [
    ([], "one of the arguments --data --synthetic is required"),
    (["--synthetic", "--data", "."], "not allowed with argument"),
    (["--synthetic", "--size", "100"], "--size 100: expected a positive multiple of 16"),
    (["--synthetic", "--budget-s", "0"], "must be positive"),
    (["--data", "/no/such/folder"], "--data /no/such/folder: folder not found"),
    (["--synthetic", "--only", "train,bogus"], "unknown steps ['bogus']"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        gpu_check.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_table_shows_every_row_with_its_status_and_reason():
    rows = [gpu_check.Row("bench_b4", "training, precision=fast", 12.3456, "clips/s"),
            gpu_check.Row("ddp", "trainer=ddp", None, "clips/s").failed("timed out after 150 s\nsecond line")]
    text = gpu_check.format_table(rows).splitlines()
    assert text[0].split() == ["step", "setting", "figure", "unit", "status"]
    assert text[2].split()[-3:] == ["12.35", "clips/s", "ok"]
    assert text[3].endswith("-  clips/s  FAILED: timed out after 150 s second line")
    assert len({line.index("clips/s") for line in text[2:]}) == 1  # columns line up
    md = gpu_check.markdown_table(rows).splitlines()
    assert md[0] == "| step | setting | figure | unit | status |" and len(md) == 4
    assert md[3] == "| ddp | trainer=ddp | - | clips/s | FAILED: timed out after 150 s second line |"


def test_failure_reason_prefers_the_cli_error_then_the_exception():
    log = "$ python -m lnta.train\nstarting\nerror: data.root=/x: folder not found\n"
    assert gpu_check.failure_reason(log, 2, False, 60) == "error: data.root=/x: folder not found"
    log = "Traceback (most recent call last):\n  File x\ntorch.OutOfMemoryError: CUDA out of memory.\n"
    assert gpu_check.failure_reason(log, 1, False, 60) == "torch.OutOfMemoryError: CUDA out of memory."
    assert gpu_check.failure_reason("last words\n", 3, False, 60) == "exit status 3: last words"
    assert gpu_check.failure_reason("", None, True, 90.4) == "timed out after 90 s"


def test_ped2_estimate_is_epochs_times_clips_over_rate_plus_epoch_end_work():
    assert gpu_check.ped2_60_epoch_s(462.0, 2310) == pytest.approx(300.0)
    assert gpu_check.ped2_60_epoch_s(2310.0, 2310, epoch_end_s=0.5) == pytest.approx(60 * 1.5)


def test_a_failing_step_becomes_failed_rows_and_the_check_goes_on(tmp_path):
    plan = gpu_check.parse_args(["--tiny", "--synthetic", "--out", str(tmp_path), "--only", "eval,estimate"])
    check = gpu_check.Check(plan)
    rows = check.run_all()  # no train step ran: eval finds no checkpoint, the estimate no figures
    assert [r.step for r in rows] == ["eval"] * 2 + ["estimate"] * 2
    assert all(r.status == "FAILED" and r.figure is None for r in rows)
    assert rows[0].reason == "no last.ckpt from the train step"
    table = gpu_check.write_report(plan, rows, check.info, 0.0)
    assert "0 of 4 rows ok" in table
    assert len(json.loads((tmp_path / "gpu_check.json").read_text())["rows"]) == 4


@pytest.mark.slow
def test_tiny_check_runs_every_step_on_cpu(tmp_path):
    env = cli_env({"PY": sys.executable})
    result = subprocess.run(["bash", str(REPO / "experiments" / "gpu_check" / "run.sh"), "--tiny", "--synthetic",
                             "--device", "cpu", "--out", str(tmp_path / "out")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=900)
    report = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    rows = report["rows"]
    assert [r["step"] for r in rows] == [s for s, n in ROWS_PER_STEP.items() for _ in range(n)]
    failed = [f"{r['step']}: {r['reason']}" for r in rows if r["status"] != "ok"]
    assert not failed and result.returncode == 0, (failed, result.stderr[-3000:])
    assert all(isinstance(r["figure"], (int, float)) and r["figure"] > 0 for r in rows)
    assert report["summary"].startswith(f"{len(rows)} of {len(rows)} rows ok")
    assert "FAILED" not in result.stdout and "estimate" in result.stdout
    assert (tmp_path / "out" / "gpu_check.md").read_text().count("\n| ") == len(rows) + 1
