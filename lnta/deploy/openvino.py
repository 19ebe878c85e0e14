"""OpenVINO export of the autoencoder (``python -m lnta.export format=openvino out=ae.xml``) and its runtime
(``python -m lnta.score runtime=openvino ckpt_path=ae.xml``), for Intel CPUs.

Export: ``openvino.convert_model`` traces the PyTorch model on an example clip (OpenVINO's PyTorch frontend;
no ONNX step) with a dynamic batch axis; ``openvino.save_model`` writes the IR pair ``ae.xml`` (graph) +
``ae.bin`` (weights, kept in fp32: ``compress_to_fp16=False``, so that the IR is the checkpoint's model
and not a rounded one). The model's ``rt_info`` ``lnta/json`` carries the same JSON as the TorchScript
export's extra file (:func:`lnta.deploy.metadata.metadata`: geometry and calibration). The export is
checked by reading the files back and running them with OpenVINO's CPU plugin at f32.

Runtime: the IR is compiled for the CPU with the inference precision that ``precision`` names:
``exact`` (and null) f32; ``fast`` bf16 where the CPU runs bf16 natively (OpenVINO reports ``BF16`` in
the CPU's capabilities: AVX-512 bf16 or AMX), else f32. :func:`load_openvino` returns the reconstruct
callable that :mod:`lnta.deploy.stream` scores with, the same scoring path as the PyTorch runtime.

``pip install 'lnta[openvino]'``; tested with openvino 2026.4 and the floor, 2025.0 (2024.0 cannot read
the IR it writes from this model with torch 2.13: "Attribute and shape size are inconsistent for Const op").
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from lnta.errors import ConfigError, DataError

INPUT, OUTPUT = "clip", "reconstruction"
RT_INFO = ["lnta", "json"]  # where the metadata lives in the IR's rt_info (<rt_info><lnta><json value=.../>)
INSTALL = "pip install 'lnta[openvino]'"


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def require_openvino(setting: str) -> None:
    """Raise a one-line :class:`ConfigError` naming ``setting`` unless OpenVINO is installed."""
    if not openvino_available():
        raise ConfigError(f"{setting}: needs the package openvino; install it with {INSTALL}")


def ir_out(out: str | Path) -> Path:
    """``out`` of ``format=openvino`` as a path, refused with one line unless it names the .xml of the IR pair."""
    path = Path(out)
    if path.suffix != ".xml":
        raise ConfigError(f"out={path}: format=openvino writes an IR pair; name the .xml file "
                          f"(out={path.with_suffix('.xml')}; the .bin is written beside it)")
    return path


def export_openvino(model: torch.nn.Module, example: torch.Tensor, path: Path, meta: dict, check: torch.Tensor) -> float:
    """Convert ``model`` (eval mode) traced on ``example`` to the IR ``path`` (.xml, with the .bin beside it)
    carrying ``meta``, read it back, and return the max abs difference from ``model`` on the clips ``check``
    (OpenVINO CPU at f32)."""
    require_openvino("format=openvino")
    import openvino as ov

    path = ir_out(path)
    model = model.eval()
    shape = ov.PartialShape([-1, *example.shape[1:]])  # dynamic batch; C, T, H, W are the checkpoint's
    with torch.no_grad():
        converted = ov.convert_model(model, example_input=example, input=[shape])
    converted.inputs[0].get_tensor().set_names({INPUT})
    converted.outputs[0].get_tensor().set_names({OUTPUT})
    converted.set_rt_info(json.dumps(meta), RT_INFO)
    _save_pair(converted, path)
    forward = load_openvino(path, "exact")[0]
    with torch.no_grad():
        return float((forward(check) - model(check)).abs().max())


def _save_pair(converted, path: Path) -> None:
    """Write ``path`` and its .bin through a temporary folder beside them: the .bin replaces the old one first,
    then the .xml (the file a reader opens), so a failed export leaves the previous pair's .xml unchanged."""
    import openvino as ov

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        ov.save_model(converted, str(tmp / path.name), compress_to_fp16=False)
        os.replace(tmp / path.with_suffix(".bin").name, path.with_suffix(".bin"))
        os.replace(tmp / path.name, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def inference_precision(precision: str | None) -> str:
    """OpenVINO's CPU inference precision for lnta's ``precision`` knob: f32, or bf16 for ``fast`` where native."""
    if precision in (None, "exact"):
        return "f32"
    if precision != "fast":
        raise ConfigError(f"precision={precision}: expected fast or exact")
    import openvino as ov
    import openvino.properties.device as device

    return "bf16" if "BF16" in ov.Core().get_property("CPU", device.capabilities()) else "f32"


def _ir_files(path: str | Path, key: str) -> Path:
    path = Path(str(path)).expanduser()
    if path.suffix != ".xml":
        raise ConfigError(f"{key}={path}: runtime=openvino needs the .xml IR written by "
                          "python -m lnta.export format=openvino out=FILE.xml")
    for file in (path, path.with_suffix(".bin")):
        if not file.is_file():
            raise DataError(f"{key}={path}: {file} does not exist (write the IR with python -m lnta.export "
                            "format=openvino out=FILE.xml; the .bin must stay beside the .xml)")
    return path


def load_openvino(path: str | Path, precision: str | None = None,
                  key: str = "ckpt_path") -> tuple[Callable[[torch.Tensor], torch.Tensor], dict, str]:
    """The reconstruct callable of the IR at ``path`` compiled for the CPU, its ``lnta.json`` metadata, and the
    inference precision used (:func:`inference_precision`). The callable maps a float32 (B, C, T, H, W) tensor
    in [-1, 1] to its reconstruction, like the PyTorch model. Errors name ``key``, the setting that gave ``path``."""
    path = _ir_files(path, key)  # first: a wrong path is the same error with or without OpenVINO installed
    require_openvino("runtime=openvino")
    import openvino as ov
    import openvino.properties.hint as hints

    core = ov.Core()
    try:
        model = core.read_model(str(path))
    except RuntimeError as error:
        raise DataError(f"{key}={path}: OpenVINO cannot read it ({str(error).splitlines()[0]})") from None
    if not model.has_rt_info(RT_INFO):
        raise DataError(f"{key}={path}: no lnta metadata in the IR (export it with python -m lnta.export "
                        "format=openvino)")
    meta = json.loads(str(model.get_rt_info(RT_INFO).astype(str)))
    used = inference_precision(precision)
    compiled = core.compile_model(model, "CPU", {hints.inference_precision: getattr(ov.Type, used)})
    request = compiled.create_infer_request()

    def reconstruct(clips: torch.Tensor) -> torch.Tensor:
        out = request.infer({0: np.ascontiguousarray(clips.detach().float().cpu().numpy())})
        return torch.from_numpy(np.array(out[0]))  # a copy: the request reuses its output buffer

    return reconstruct, meta, used


def openvino_metadata(path: str | Path) -> dict:
    """The ``lnta.json`` metadata of an exported IR (geometry and calibration), without compiling it."""
    require_openvino("runtime=openvino")
    import openvino as ov

    return json.loads(str(ov.Core().read_model(str(_ir_files(path, "path"))).get_rt_info(RT_INFO).astype(str)))
