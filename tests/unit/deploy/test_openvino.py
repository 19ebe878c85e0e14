"""OpenVINO export and runtime: IR round trip within 1e-4 with metadata and a dynamic batch, clear errors."""
from __future__ import annotations

import pytest
import torch

from lnta.deploy.metadata import check_clips
from lnta.deploy.openvino import (export_openvino, inference_precision, load_openvino, openvino_available,
                                  openvino_metadata, require_openvino)
from lnta.errors import ConfigError, DataError
from tests.unit.deploy.test_export_onnx import _model

needs_openvino = pytest.mark.skipif(not openvino_available(),
                                    reason="openvino not installed (pip install 'lnta[openvino]')")


@needs_openvino
def test_openvino_round_trip_matches_the_model_within_1e_4_with_metadata_and_a_dynamic_batch(tmp_path):
    model, path = _model(), tmp_path / "ae.xml"
    meta = {"image_size": 32, "clip_len": 16, "center": 8, "calibration": {"n": 3, "mean": 0.5}}
    diff = export_openvino(model, torch.zeros(1, 1, 16, 32, 32), path, meta, check_clips((1, 16, 32, 32)))
    assert diff <= 1e-4  # f32 in both; the weights are stored in fp32 (compress_to_fp16=False)
    assert openvino_metadata(path) == meta
    forward, loaded_meta, used = load_openvino(path, "exact")
    assert loaded_meta == meta and used == "f32"
    clips = torch.rand(3, 1, 16, 32, 32) * 2 - 1  # another batch size than the export example
    with torch.no_grad():
        got, expected = forward(clips), model(clips)
    assert got.shape == (3, 1, 16, 32, 32) and got.dtype == torch.float32
    assert float((got - expected).abs().max()) <= 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ae.bin", "ae.xml"]  # no temporary folder left


@needs_openvino
def test_fast_precision_is_bf16_only_where_openvino_reports_it():
    import openvino as ov
    import openvino.properties.device as device

    native = "BF16" in ov.Core().get_property("CPU", device.capabilities())
    assert inference_precision("fast") == ("bf16" if native else "f32")
    assert inference_precision(None) == inference_precision("exact") == "f32"


def test_missing_openvino_is_one_clear_error(monkeypatch):
    monkeypatch.setattr("lnta.deploy.openvino.openvino_available", lambda: False)
    with pytest.raises(ConfigError, match=r"^runtime=openvino: needs the package openvino; install it with "
                                          r"pip install 'lnta\[openvino\]'$"):
        require_openvino("runtime=openvino")


def test_a_wrong_ir_path_is_an_error_naming_the_setting(tmp_path):
    with pytest.raises(ConfigError, match=r"^ckpt_path=.*last\.ckpt: runtime=openvino needs the \.xml IR"):
        load_openvino(tmp_path / "last.ckpt")
    with pytest.raises(DataError, match=r"^ckpt_path=.*nope\.xml: .*nope\.xml does not exist"):
        load_openvino(tmp_path / "nope.xml")
    (tmp_path / "ae.xml").write_text("<net/>")
    with pytest.raises(DataError, match=r"^ckpt_path=.*ae\.xml: .*ae\.bin does not exist"):
        load_openvino(tmp_path / "ae.xml")
