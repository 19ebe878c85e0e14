"""ONNX export of the autoencoder (``python -m lnta.export format=onnx``), checked with onnxruntime.

Exporter: ``torch.onnx.export(..., dynamo=True)``, the ``torch.export``-based exporter that torch
documents as the recommended one (the default since torch 2.9; the TorchScript-based exporter is the
deprecated one). It needs ``onnx`` and ``onnxscript``; the check needs ``onnxruntime``:
``pip install 'lnta[onnx]'``. Tested with torch 2.13, onnx 1.23, onnxscript 0.7, onnxruntime 1.32.

The graph maps input ``clip`` (B, C, T, H, W) float32 in [-1, 1] to output ``reconstruction`` of the same
shape; the batch axis B is dynamic, C/T/H/W are the checkpoint's. The weights are inside the one file
(no external data). ``metadata_props["lnta.json"]`` carries the same JSON as the TorchScript export's
extra file (:func:`lnta.deploy.metadata.metadata`: geometry and calibration).
"""
from __future__ import annotations

import importlib.util
import json
import logging
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from lnta.errors import ConfigError
from lnta.deploy.metadata import METADATA
from lnta.io import atomic_path

PACKAGES = ("onnx", "onnxscript", "onnxruntime")
INPUT, OUTPUT = "clip", "reconstruction"
MIN_TORCH = (2, 9)  # the dynamo exporter as used here is the documented default from torch 2.9


def missing_packages() -> list[str]:
    """The ONNX packages that are not installed (empty when export and check can run)."""
    return [name for name in PACKAGES if importlib.util.find_spec(name) is None]


def require_onnx() -> None:
    """Raise a one-line :class:`ConfigError` unless the ONNX exporter and runtime can be used."""
    missing = missing_packages()
    if missing:
        raise ConfigError(f"format=onnx: needs the packages {', '.join(missing)}; install them with "
                          f"pip install 'lnta[onnx]' (or use format=torchscript)")
    version = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
    if version < MIN_TORCH:
        raise ConfigError(f"format=onnx: needs torch >= {'.'.join(map(str, MIN_TORCH))} (its torch.export-based "
                          f"ONNX exporter), found {torch.__version__}; use format=torchscript")


#: The exporter's registry warns once per torchvision op when torchvision is absent (lnta uses none of them).
_REGISTRY_LOGGER = "torch.onnx._internal.exporter._registration"
_TORCHVISION_ABSENT = "torchvision is not installed. Skipping torchvision::"
#: The graph passes after export log each pass at INFO ("Removed 65 unused nodes", ...).
_PASS_LOGGERS = ("onnx_ir", "onnxscript")


class _NoTorchvisionNotes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_TORCHVISION_ABSENT)


@contextmanager
def quiet_exporter():
    """While exporting: drop the registry's "torchvision is not installed. Skipping torchvision::nms" warnings
    and the graph passes' INFO lines (their warnings and errors still show); everything restored after."""
    registry, notes = logging.getLogger(_REGISTRY_LOGGER), _NoTorchvisionNotes()
    passes = {name: logging.getLogger(name) for name in _PASS_LOGGERS}
    levels = {name: logger.level for name, logger in passes.items()}
    registry.addFilter(notes)
    for logger in passes.values():
        logger.setLevel(max(logging.WARNING, logger.getEffectiveLevel()))
    try:
        yield
    finally:
        registry.removeFilter(notes)
        for name, logger in passes.items():
            logger.setLevel(levels[name])


def export_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path, meta: dict, check: torch.Tensor) -> float:
    """Export ``model`` (eval mode) traced on ``example`` to ``path`` with ``meta`` as metadata, reload it
    in onnxruntime and return the max abs difference from ``model`` on the clips ``check``."""
    require_onnx()
    model = model.eval()
    batch = torch.export.Dim("batch")
    with torch.no_grad(), quiet_exporter():
        program = torch.onnx.export(model, (example,), dynamo=True, verbose=False, input_names=[INPUT],
                                    output_names=[OUTPUT], dynamic_shapes=({0: batch},))
    program.model.metadata_props[METADATA] = json.dumps(meta)
    with atomic_path(path) as tmp:
        program.save(str(tmp), external_data=False)
    session = onnx_session(path)
    with torch.no_grad():
        expected = model(check).numpy()
    got = session.run([OUTPUT], {INPUT: check.numpy().astype(np.float32)})[0]
    return float(np.abs(got - expected).max())


def onnx_session(path: Path):
    """An onnxruntime CPU session of the file at ``path``."""
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def onnx_metadata(path: Path) -> dict:
    """The ``lnta.json`` metadata of an exported ONNX file (geometry and calibration)."""
    return json.loads(onnx_session(path).get_modelmeta().custom_metadata_map[METADATA])

