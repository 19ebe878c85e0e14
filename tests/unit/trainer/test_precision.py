"""The precision knob: what fast and exact resolve to, and that fast keeps the exact path's AUC."""
import csv
import json

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from lnta.trainer import precision as fast
from lnta.errors import ConfigError
from lnta.trainer.precision import apply_speed, resolve_speed
from lnta.models import ConvAE3D
from tests.conftest import inductor_compiles, run_cli


def test_exact_is_the_reference_numerics():
    speed = resolve_speed("exact", "cpu")
    assert (speed.trainer_precision, speed.channels_last, speed.tf32, speed.eval_batch_scale) == ("32-true", False, False, 1)


@pytest.mark.parametrize("native_bf16, expected", [(True, "bf16-mixed"), (False, "32-true")])
def test_fast_uses_bf16_only_where_it_is_native(monkeypatch, native_bf16, expected):
    monkeypatch.setattr(fast, "fast_bf16", lambda device: native_bf16)
    speed = resolve_speed("fast", "cpu")
    assert speed.trainer_precision == expected and speed.channels_last and not speed.cudnn_benchmark


CPUINFO = """processor\t: 0
model name\t: Some CPU
flags\t\t: fpu sse2 avx2 avx512f {extra}
"""


@pytest.mark.parametrize("extra, expected", [("avx512_bf16", True), ("amx_tile amx_bf16", True),
                                             ("avx512_vnni", False), ("", False)])
def test_cpu_bf16_read_from_the_kernel_flags_where_torch_cannot_tell(monkeypatch, tmp_path, extra, expected):
    # torch 2.4 (the floor of our range) has no torch.cpu._is_avx512_bf16_supported: fast_bf16 raised AttributeError
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.delattr(torch.cpu, name, raising=False)
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(extra=extra))
    assert fast.cpu_bf16_native(str(cpuinfo)) is expected
    assert fast.cpu_bf16_native(str(tmp_path / "absent")) is False


@pytest.mark.parametrize("bf16, amx, expected", [(True, False, True), (False, True, True), (False, False, False)])
def test_cpu_bf16_asks_torch_where_it_can(monkeypatch, tmp_path, bf16, amx, expected):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(extra="avx512_bf16 amx_bf16" if not expected else ""))   # torch wins
    assert fast.cpu_bf16_native(str(cpuinfo)) is expected


def test_unknown_precision_is_a_config_error():
    with pytest.raises(ConfigError, match="precision='half'"):
        resolve_speed("half", "cpu")


def test_channels_last_changes_layout_not_results():
    torch.manual_seed(0)
    exact_model = ConvAE3D(width=0.125).eval()
    fast_model = ConvAE3D(width=0.125).eval()
    fast_model.load_state_dict(exact_model.state_dict())
    apply_speed(resolve_speed("fast", "cpu"), fast_model)
    assert fast_model.encoder[0].weight.is_contiguous(memory_format=torch.channels_last_3d)
    x = torch.rand(2, 1, 8, 32, 32) * 2 - 1
    with torch.inference_mode():
        assert torch.allclose(fast_model(x), exact_model(x), atol=1e-5)
    apply_speed(resolve_speed("exact", "cpu"))


def _psnr(run):
    with open(run / "scores.csv") as f:
        return np.array([float(r["psnr"]) for r in csv.DictReader(f)])


@pytest.mark.slow
@pytest.mark.parametrize("inference_compile", ["false", "true"])
def test_fast_path_auc_matches_exact_path(tmp_path, tiny, inference_compile):
    """Same seed, precision=fast vs exact, both in fp32: fast's channels_last_3d weights and, with
    inference_compile=true, testing through the frozen graph (BatchNorm folded into the
    convolutions). Runs differ only by float reassociation (~1e-6 relative): per-frame PSNRs agree
    to 1e-3 dB and the AUC to 0.005 (one swapped pair of the 50 scored frames moves it by at most
    1/(positives x negatives)). On a native-bf16 CPU fast's bf16 is switched off with
    trainer.precision=32-true, so this runs on every machine; bf16 itself is the next test.
    At the paper's lr 1e-4, not the demo's 3e-3: the convolution biases before BatchNorm have a zero
    gradient up to rounding, which Adam turns into steps of +-lr whatever its sign; at 3e-3 that alone
    moved the PSNRs by 0.005-0.007 dB (measured, AVX2 EPYC and the CI machine)."""
    runs = {}
    for precision in ("exact", "fast"):
        run = tmp_path / precision
        run_cli("lnta.train", "+experiment=synthetic_patch", *tiny, f"precision={precision}", f"hydra.run.dir={run}",
                "trainer.precision=32-true", f"inference_compile={inference_compile}", "optimizer.lr=1e-4")
        runs[precision] = run
    exact, fast_ = (json.loads((runs[p] / "metrics.json").read_text()) for p in ("exact", "fast"))
    assert fast_["inference_compiled"] is (inference_compile == "true" and inductor_compiles())
    assert np.allclose(_psnr(runs["fast"]), _psnr(runs["exact"]), atol=1e-3)
    assert fast_["auc_micro"] == pytest.approx(exact["auc_micro"], abs=0.005)
    assert fast_["auc_macro"] == pytest.approx(exact["auc_macro"], abs=0.005)


@pytest.mark.slow
def test_fast_bf16_path_stays_close_to_exact(tmp_path, tiny):
    """fast as it runs on a native-bf16 CPU (bf16 autocast, channels_last_3d, compiled testing),
    forced with trainer.precision=bf16-mixed so that it runs on every machine (emulated on AVX2,
    cheap at this size), against exact. Measured on the tiny runs, seeds 0-2 (AVX2, emulated bf16):
    per-frame PSNRs within 0.0006-0.0070 dB, AUCs within 0.0017; the bounds are about 7x that."""
    runs = {}
    for precision, extra in (("exact", []), ("fast", ["trainer.precision=bf16-mixed", "inference_compile=true"])):
        run = tmp_path / precision
        run_cli("lnta.train", "+experiment=synthetic_patch", *tiny, f"precision={precision}", f"hydra.run.dir={run}",
                *extra)
        runs[precision] = run
    exact, fast_ = (json.loads((runs[p] / "metrics.json").read_text()) for p in ("exact", "fast"))
    assert fast_["trainer_precision"] == "bf16-mixed"
    assert np.allclose(_psnr(runs["fast"]), _psnr(runs["exact"]), atol=0.05)
    assert fast_["auc_micro"] == pytest.approx(exact["auc_micro"], abs=0.01)
    assert fast_["auc_macro"] == pytest.approx(exact["auc_macro"], abs=0.01)


def test_one_device_resolver_for_device_and_trainer_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert fast.resolve_device("auto") == fast.resolve_device(None) == torch.device("cpu")
    assert fast.resolve_device("cpu", "trainer.accelerator") == torch.device("cpu")
    with pytest.raises(ConfigError, match="trainer.accelerator=gpu: no CUDA device"):
        fast.resolve_device("gpu", "trainer.accelerator")
    with pytest.raises(ConfigError, match="device=cuda:1: no CUDA device"):
        fast.resolve_device("cuda:1")
    with pytest.raises(ConfigError, match="device=tpu: expected auto, cpu"):
        fast.resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert fast.resolve_device("auto") == fast.resolve_device("gpu") == torch.device("cuda")
    assert fast.resolve_device("cuda:1") == torch.device("cuda:1")


@pytest.mark.parametrize("native_bf16", [True, False])
def test_inference_compile_auto_only_where_measured_faster(monkeypatch, native_bf16):
    """auto: compiled testing on CPUs with native bf16 (measured +21% frames/s there), not elsewhere;
    true compiles wherever fast runs; exact never compiles."""
    monkeypatch.setattr(fast, "fast_bf16", lambda device: native_bf16)
    assert resolve_speed("fast", "cpu").inference_compile is native_bf16
    assert resolve_speed("fast", "cpu", inference_compile=True).inference_compile is True
    assert resolve_speed("fast", "cpu", inference_compile=False).inference_compile is False
    assert resolve_speed("exact", "cpu", inference_compile=True).inference_compile is False
    # issue 25 item 3: auto only where the compile pays: frames of 128 px and more (measured at 256 x 256)
    assert resolve_speed("fast", "cpu", image_size=256).inference_compile is native_bf16
    assert resolve_speed("fast", "cpu", image_size=64).inference_compile is False
    assert resolve_speed("fast", "cpu", image_size=[128, 96]).inference_compile is False
    # (H, W) as the config gives it, a ListConfig (once a TypeError)
    assert resolve_speed("fast", "cpu", image_size=OmegaConf.create([128, 96])).inference_compile is False
    assert resolve_speed("fast", "cpu", image_size=OmegaConf.create([128, 256])).inference_compile is native_bf16
    assert resolve_speed("fast", "cpu", inference_compile=True, image_size=32).inference_compile is True
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_speed("fast", "cuda").inference_compile is False  # not measured on a GPU


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_unknown_inference_compile_is_a_config_error(value):
    with pytest.raises(ConfigError, match=f"inference_compile={value!r}: expected auto, true or false"):
        resolve_speed("fast", "cpu", inference_compile=value)


def test_inference_compile_is_inherited_from_the_checkpoint_run():
    """So that lnta.eval and lnta.score reproduce the end-of-training numbers; checkpoints from
    before the setting (and converted ones) were tested eagerly."""
    assert fast.inference_compile_of(None, {"inference_compile": "auto"}) == "auto"
    assert fast.inference_compile_of(False, {"inference_compile": "auto"}) is False
    assert fast.inference_compile_of(None, {"precision": "fast"}) is False
    assert fast.inference_compile_of(None, None) is False
