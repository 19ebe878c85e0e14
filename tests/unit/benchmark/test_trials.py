"""lnta.bench --trials and --profile: argument handling, row contents and table formats at a tiny size
(no timing asserts)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from lnta.benchmark.profile import GROUPS, op_group, profile_table, run_profile, summarise
from lnta.benchmark.trials import ALL_TRIALS, make_trial, parse_trials, run_trials, trials_table
from lnta.bench import parse_args

TINY = SimpleNamespace(device="cpu", width=0.125, size=16, frames=16, batch=2, eval_batch=2, repeats=1, top=5)


def test_parse_trials_all_and_subsets_keep_table_order_and_add_the_exact_rows():
    assert parse_trials("all") == list(ALL_TRIALS)
    assert parse_trials("eval:fp32+jit_freeze,train:fast") == ["train:exact", "train:fast", "eval:exact",
                                                               "eval:fp32+jit_freeze"]
    assert parse_trials("eval:exact") == ["eval:exact"]


@pytest.mark.parametrize("spec", ["bogus", "train:jit_freeze", ",", "train:fast,eval:nope"])
def test_parse_trials_names_the_unknown_trial(spec):
    with pytest.raises(ValueError, match="unknown trial"):
        parse_trials(spec)


def test_trial_settings_follow_their_names():
    cpu = torch.device("cpu")
    exact, fast = make_trial("exact", cpu), make_trial("fast+cl_input", cpu)
    assert exact.speed.trainer_precision == "32-true" and not exact.speed.channels_last and not exact.bf16
    assert fast.cl_input and fast.speed.channels_last and not fast.compile
    assert make_trial("fast+compile", cpu).compile and make_trial("fast+jit_freeze", cpu).freeze
    freezing = make_trial("fast+compile_freezing", cpu)
    assert freezing.compile and freezing.inductor_freezing and not make_trial("fast+compile", cpu).inductor_freezing
    frozen32 = make_trial("fp32+jit_freeze", cpu)
    assert frozen32.freeze and frozen32.speed.trainer_precision == "32-true" and frozen32.speed.channels_last


def test_cli_trials_and_profile_arguments():
    assert parse_args(["--trials"]).trials == list(ALL_TRIALS)
    assert parse_args(["--trials", "train:fast"]).trials == ["train:exact", "train:fast"]
    assert parse_args([]).trials is None and not parse_args([]).profile
    assert parse_args(["--profile", "--repeats", "1"]).profile


@pytest.mark.parametrize("argv, message", [
    (["--trials", "nope"], "unknown trial nope"),
    (["--trials", "--profile"], "not allowed with argument"),
    (["--profile", "--repeats", "0"], "--repeats=0: expected a positive integer"),
    (["--size", "-16"], "--size=-16: expected a positive integer"),
])
def test_cli_rejects_bad_arguments_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_trial_rows_at_tiny_size_have_every_figure_and_small_numeric_differences():
    names = parse_trials("train:fast+cl_input,eval:fast,eval:fp32+jit_freeze,eval:fast+jit_freeze")
    rows = run_trials(TINY, names, {"fp32": 10.0, "bf16": 20.0}, {"train": 0.01, "eval": 0.003})
    assert [(r["kind"], r["trial"]) for r in rows] == [tuple(n.split(":")) for n in names]
    assert all("error" not in r for r in rows), rows
    by = {(r["kind"], r["trial"]): r for r in rows}
    for r in rows:
        assert r["per_s"] > 0 and r["seconds_per_call"] > 0 and r["first_call_s"] > 0 and r["batch"] == 2
        assert r["fraction_of_peak"] == pytest.approx(r["achieved_gflops"] / (20.0 if r["dtype"] == "bf16" else 10.0))
    assert by["train", "exact"]["ratio_to_exact"] == 1 and by["train", "exact"]["max_abs_diff"] == 0
    # fp32 with BatchNorm folded into the convolutions: float reassociation only
    assert by["eval", "fp32+jit_freeze"]["max_abs_diff"] < 1e-4 and by["eval", "fp32+jit_freeze"]["prepare_s"] > 0
    bf16 = by["eval", "fast"]["dtype"] == "bf16"
    for key in (("eval", "fast"), ("eval", "fast+jit_freeze"), ("train", "fast+cl_input")):
        assert by[key]["max_abs_diff"] < (0.1 if bf16 else 1e-4), key
        assert by[key]["max_psnr_diff_db"] < (0.1 if bf16 else 1e-3), key


def _result(rows):
    return {"batch_size": 2, "clip_len": 16, "image_size": 16, "eval_batch_size": 2, "model_width": 0.125,
            "repeats": 1, "peak_gflops_fp32": 10.0, "peak_gflops_bf16": 20.0, "trials": rows}


def test_trials_table_has_one_line_per_row_and_shows_failures():
    ok = {"kind": "train", "trial": "exact", "dtype": "fp32", "per_s": 2.0, "unit": "clips/s", "ratio_to_exact": 1.0,
          "achieved_gflops": 3.0, "fraction_of_peak": 0.3, "first_call_s": 0.5, "prepare_s": 0.0,
          "max_abs_diff": 0.0, "max_psnr_diff_db": 0.0}
    failed = {"kind": "eval", "trial": "fast+compile", "batch": 2, "error": "RuntimeError: no compiler"}
    lines = trials_table(_result([ok, failed])).splitlines()
    assert lines[2].startswith("| kind | trial |") and len(lines) == 6
    assert lines[4] == "| train | exact | fp32 | 2 clips/s | 1 | 3 | 30.0% | 0.5 | 0 | 0 | 0 |"
    assert "failed: RuntimeError: no compiler" in lines[5]


def test_op_groups_by_name_and_one_channel_operands():
    assert op_group("aten::mkldnn_convolution", [[2, 1, 16, 32, 32], [12, 1, 3, 3, 3], [12]]) == "end layers"
    assert op_group("aten::convolution_backward", [[2, 12, 16, 16, 16], [2, 1, 16, 32, 32], [12, 1, 3, 3, 3]]) \
        == "end layers"
    # batch 1 is not one channel
    assert op_group("aten::mkldnn_convolution", [[1, 12, 16, 16, 16], [16, 12, 3, 3, 3], [16]]) == "convs"
    assert op_group("aten::native_batch_norm_backward", []) == "batchnorm"
    assert op_group("aten::leaky_relu_", [[1, 12, 4, 4, 4]]) == "leaky_relu"
    assert op_group("aten::add_", [[1, 1, 16, 32, 32]]) == "other"


def test_summarise_sums_self_time_per_op_and_group():
    event = lambda key, us, shapes: SimpleNamespace(key=key, self_cpu_time_total=us, input_shapes=shapes)  # noqa: E731
    events = [event("aten::mkldnn_convolution", 3000, [[2, 1, 4, 4, 4]]), event("aten::mkldnn_convolution", 1000,
              [[2, 8, 4, 4, 4]]), event("aten::native_batch_norm", 500, []), event("aten::tanh", 500, []),
              event("aten::conv3d", 0, [])]
    s = summarise(events, top=2)
    assert s["self_cpu_ms_total"] == 5.0
    assert s["top_ops"] == [{"op": "aten::mkldnn_convolution", "self_cpu_ms": 4.0, "share": 0.8},
                            {"op": "aten::native_batch_norm", "self_cpu_ms": 0.5, "share": 0.1}]
    shares = {g["group"]: g["share"] for g in s["groups"]}
    assert list(shares) == list(GROUPS)
    assert shares == {"end layers": 0.6, "convs": 0.2, "batchnorm": 0.1, "leaky_relu": 0.0, "other": 0.1}


def test_profile_at_tiny_size_and_its_table():
    profile = run_profile(TINY, top=4)
    for kind in ("train", "eval"):
        p = profile[kind]
        assert len(p["top_ops"]) == 4 and p["self_cpu_ms_total"] > 0
        assert sum(g["share"] for g in p["groups"]) == pytest.approx(1.0)
        assert {g["group"]: g["self_cpu_ms"] for g in p["groups"]}["end layers"] > 0
    text = profile_table({**_result([]), "profile": profile})
    assert "training step (batch 2)" in text and "inference batch (batch 2)" in text
    assert text.count("| group | self CPU ms | share |") == 2 and "| end layers |" in text


def test_a_failed_row_is_reported_and_rows_without_a_reference_have_no_numerics(monkeypatch):
    import lnta.benchmark.trials as trials

    real = trials.train_call

    def exact_fails(factory, trial, clips):
        if trial.name == "exact":
            raise RuntimeError("backend cannot run this\nsecond line")
        return real(factory, trial, clips)

    monkeypatch.setattr(trials, "train_call", exact_fails)
    rows = run_trials(TINY, ["train:exact", "train:fast"], {"fp32": 10.0, "bf16": 20.0}, {"train": 0.01, "eval": 0.003})
    assert rows[0] == {"kind": "train", "trial": "exact", "batch": 2, "error": "RuntimeError: backend cannot run this"}
    assert rows[1]["per_s"] > 0 and rows[1]["ratio_to_exact"] is None and rows[1]["max_abs_diff"] is None
    table = trials_table(_result(rows))
    assert "| train | exact | - | failed: RuntimeError: backend cannot run this |" in table
    assert table.splitlines()[-1].endswith("| - | - |")
