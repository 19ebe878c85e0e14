"""ONNX export: round trip through onnxruntime within 1e-4, metadata, dynamic batch, the CLI."""
from __future__ import annotations

import json
import re

import pytest
import torch

from lnta.errors import ConfigError
from lnta.deploy.metadata import check_clips
from lnta.deploy.onnx import INPUT, OUTPUT, export_onnx, missing_packages, onnx_metadata, onnx_session, require_onnx
from lnta.models import ConvAE3D
from tests.conftest import run_cli, tiny_overrides

needs_onnx = pytest.mark.skipif(bool(missing_packages()),
                                reason=f"ONNX packages not installed: {', '.join(missing_packages())} "
                                       "(pip install 'lnta[onnx]')")


def _model() -> ConvAE3D:
    torch.manual_seed(0)
    model = ConvAE3D(width=0.125)
    for m in model.modules():  # non-trivial BatchNorm statistics, as after training
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    return model.eval()


@needs_onnx
def test_onnx_round_trip_matches_the_model_within_1e_4_with_metadata_and_a_dynamic_batch(tmp_path):
    model, path = _model(), tmp_path / "ae.onnx"
    meta = {"image_size": 32, "clip_len": 16, "calibration": {"n": 3, "mean": 0.5}}
    diff = export_onnx(model, torch.zeros(1, 1, 16, 32, 32), path, meta, check_clips((1, 16, 32, 32)))
    assert diff <= 1e-4
    assert onnx_metadata(path) == meta
    session = onnx_session(path)
    clips = torch.rand(3, 1, 16, 32, 32) * 2 - 1  # another batch size than the export example
    got = session.run([OUTPUT], {INPUT: clips.numpy()})[0]
    with torch.no_grad():
        assert got.shape == (3, 1, 16, 32, 32)
        assert float((torch.from_numpy(got) - model(clips)).abs().max()) <= 1e-4
    assert not list(tmp_path.glob(".ae.onnx.*"))  # the atomic write left no temporary file


def test_missing_onnx_packages_are_one_clear_error(monkeypatch):
    monkeypatch.setattr("lnta.deploy.onnx.PACKAGES", ("onnx", "surely_not_installed_pkg"))
    with pytest.raises(ConfigError, match=r"format=onnx: needs the packages .*surely_not_installed_pkg.*lnta\[onnx\]"):
        require_onnx()


@pytest.mark.slow
@needs_onnx
def test_export_format_onnx_through_the_cli(tmp_path):
    run_cli("lnta.train", *tiny_overrides(tmp_path), "test_after_fit=false")
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    result = run_cli("lnta.export", f"ckpt_path={ckpt}", f"out={tmp_path / 'ae.onnx'}", "format=onnx",
                     f"hydra.run.dir={tmp_path / 'exp'}")
    output = result.stdout + result.stderr
    logged = re.findall(r"ONNX, checked with onnxruntime\), max abs reconstruction difference (\S+) \(tolerance 0.0001\)",
                        output)
    assert len(logged) == 1 and float(logged[0]) <= 1e-4  # exported once (the module ran main() twice)
    # issue 25: quiet; the exporter's torchvision notes and the graph passes' INFO lines are dropped
    assert "torchvision" not in output and "onnx_ir" not in output and "onnxscript" not in output, output[-3000:]
    meta = onnx_metadata(tmp_path / "ae.onnx")
    assert meta["image_size"] == 32 and meta["clip_len"] == 16 and meta["input_range"] == [-1.0, 1.0]
    bad = run_cli("lnta.export", f"ckpt_path={ckpt}", f"out={tmp_path / 'x'}", "format=tflite",
                  f"hydra.run.dir={tmp_path / 'bad'}", check=False)
    assert bad.returncode == 2 and "error: format=tflite: expected torchscript, onnx or openvino" in bad.stderr
    assert not (tmp_path / "x").exists()
