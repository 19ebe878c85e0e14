"""experiments/authors_timing: its arguments, the step recorder and the parsing of its own records into
the paired table (fabricated records; the runs themselves need the authors' clone)."""
from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from tests.conftest import REPO

HERE = REPO / "experiments" / "authors_timing"


def _load(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


paired = _load("authors_timing_run", HERE / "run.py")
timed = _load("authors_timing_timed", HERE / "timed.py")


def test_defaults_are_the_issue_settings_and_tiny_is_a_smoke_run(tmp_path):
    a = paired.parse_args(["table", "--out", str(tmp_path)])
    assert (a.size, a.batch, a.warmup, a.timed, a.eval_videos) == (256, 4, 2, 10, 2)
    assert a.methods == ["baseline", "patch", "skip"] and a.precisions == ["exact", "fast"]
    assert a.eval_precisions == ["fast"]
    t = paired.parse_args(["table", "--out", str(tmp_path), "--tiny", "--timed", "3"])
    assert (t.size, t.warmup, t.timed) == (64, 1, 3)


@pytest.mark.parametrize("argv, message", [
    (["--methods", "baseline,nope"], "expected a comma list of baseline, patch, skip"),
    (["--warmup", "0"], "--warmup=0 --timed=10: expected at least 1 each"),
    (["--clone", "/nonexistent"], "--clone=/nonexistent: no train.py there"),
])
def test_bad_arguments_fail_in_one_line(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        paired.parse_args(["--out", str(tmp_path), *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_recorder_timestamps_every_step_and_stops_cleanly(tmp_path):
    recorder = timed.Recorder(tmp_path / "r.json", stop_after=3)
    recorder.step_hook(None, (), {})
    recorder.step_hook(None, (), {})
    assert len(json.loads((tmp_path / "r.json").read_text())["steps"]) == 2
    with pytest.raises(SystemExit) as exit_info:
        recorder.step_hook(None, (), {})
    assert exit_info.value.code == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert len(data["steps"]) == 3 and data["start"] <= data["steps"][0] <= data["steps"][2]


def test_timed_passes_everything_after_the_side_through(tmp_path, monkeypatch):
    ran = {}
    monkeypatch.setattr(timed.runpy, "run_module", lambda module, **kw: ran.update(module=module, argv=sys.argv[:]))
    monkeypatch.setattr(timed, "register_optimizer_step_post_hook", lambda hook: None)
    monkeypatch.setattr(sys, "argv", sys.argv[:])
    timed.main(["--record", str(tmp_path / "r.json"), "lnta", "lnta.train", "--h", "256", "+experiment=x"])
    assert ran == {"module": "lnta.train", "argv": ["lnta.train", "--h", "256", "+experiment=x"]}


def test_s_per_iter_is_the_mean_of_the_timed_iterations_after_warmup():
    record = {"start": 0.0, "steps": [10.0, 12.0, 15.0, 19.0, 24.0]}
    assert paired.s_per_iter(record, warmup=2, timed=3) == pytest.approx((24 - 12) / 3)
    assert paired.s_per_iter(record, warmup=1, timed=1) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="r.json: 5 steps recorded, expected 6"):
        paired.s_per_iter(record, warmup=2, timed=4, name="r.json")


def test_parse_authors_eval_reads_their_print_time_and_auc():
    text = "Evaluation of ped2\ntime:  0.1323\nfps:  7.554869002836284\nThe result of  ped2\nAUC:  31.333 %\n"
    assert paired.parse_authors_eval(text) == {"loop_fps": pytest.approx(7.554869002836284),
                                               "auc": pytest.approx(0.31333)}
    with pytest.raises(ValueError, match="no 'fps:'"):
        paired.parse_authors_eval("AUC: 50 %")


def _write(path, data):
    path.mkdir(parents=True)
    (path / "record.json").write_text(json.dumps(data))


def test_summary_and_table_from_the_records(tmp_path):
    steps = lambda per: [5.0 + per * i for i in range(1, 4)]  # noqa: E731 - 3 steps, first at 5 + per
    _write(tmp_path / "train" / "authors_skip", {"start": 0.0, "steps": steps(2.0), "wall_s": 11.0})
    _write(tmp_path / "train" / "lnta_skip_fast", {"start": 0.0, "steps": steps(0.5), "wall_s": 9.0})
    _write(tmp_path / "train" / "lnta_skip_exact", {"start": 0.0, "steps": steps(1.0), "wall_s": 10.0})
    _write(tmp_path / "eval" / "authors", {"start": 0.0, "steps": [], "test_s": [], "wall_s": 60.0,
                                            "scored_frames": 330, "loop_fps": 5.5, "auc": 0.80})
    _write(tmp_path / "eval" / "lnta_fast", {"start": 0.0, "steps": [], "test_s": [30.0], "wall_s": 40.0,
                                              "scored_frames": 330, "auc": 0.801})
    (tmp_path / "settings.json").write_text(json.dumps({"size": 64, "batch": 4, "threads": 2, "eval_videos": 2,
                                                        "machine": {"cpu": "test cpu", "cpu_capability": "AVX512", "fast_bf16": True}}))
    summary = paired.table(tmp_path, warmup=1, timed=2)
    assert summary["train"]["authors_skip"]["s_per_iter"] == pytest.approx(2.0)
    assert summary["train"]["authors_skip"]["startup_s"] == pytest.approx(7.0)
    assert summary["train"]["lnta_skip_fast"]["ped2_epoch_s_est"] == pytest.approx(577 * 0.5)
    assert summary["eval"]["lnta_fast"]["frames_per_s"] == pytest.approx(11.0)
    pairs = {(p["what"], p["lnta"]): p for p in summary["pairs"]}
    assert set(pairs) == {("train skip", "exact"), ("train skip", "fast"), ("test", "fast")}
    assert pairs["train skip", "fast"]["speedup"] == pytest.approx(4.0)
    assert pairs["test", "fast"]["speedup"] == pytest.approx(2.0)
    assert pairs["test", "fast"]["auc_diff"] == pytest.approx(0.001)
    text = (tmp_path / "results.md").read_text()
    assert text.startswith("Paired timing at 64², batch 4, 1 warm-up + 2 timed iterations, 2 threads; "
                           "machine: test cpu (AVX512, native bf16: True)")
    assert "| train skip (s/iter) | fast | 2 | 0.5 | 4.00x | 1154 | 288.5 | 4.00x |" in text
    assert "| test, 2 videos (frames/s) | fast | 5.5 | 11 | 2.00x | | | AUC diff +0.0010 |" in text
    assert json.loads((tmp_path / "results.json").read_text())["pairs"] == summary["pairs"]


def test_table_names_a_record_with_too_few_steps(tmp_path):
    _write(tmp_path / "train" / "authors_patch", {"start": 0.0, "steps": [1.0, 2.0], "wall_s": 3.0})
    with pytest.raises(ValueError, match="authors_patch/record.json: 2 steps recorded, expected 12"):
        paired.summarise(tmp_path, warmup=2, timed=10)
