"""``python -m lnta.export ckpt_path=FILE out=FILE.pt [format=onnx]``: the AE for deployment.

The file maps a (B, 1, T, H, W) clip in [-1, 1] to its reconstruction and carries ``lnta.json``
(image size, clip length, scored frame, calibration): as an extra file of the TorchScript archive
(``format=torchscript``, default), or as ONNX ``metadata_props`` (``format=onnx``, lnta/deploy/onnx.py).
The export is checked by reloading it (TorchScript; onnxruntime for ONNX) and comparing its
reconstructions of random clips with the checkpoint's model.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from omegaconf import DictConfig

from lnta.metrics.calibration import CALIBRATION_KEY
from lnta.trainer.checkpoint import CONFIG_KEY, load_checkpoint, module_from_checkpoint
from lnta.data.sampling import REFERENCE_CENTER
from lnta.errors import ConfigError, DataError
from lnta.io import atomic_path

log = logging.getLogger("lnta.export")

METADATA = "lnta.json"


def metadata(checkpoint: dict) -> dict:
    """What a deployment needs besides the network: input geometry and the calibration statistics."""
    data = checkpoint[CONFIG_KEY]["data"]
    return {"image_size": data["image_size"], "clip_len": data["clip_len"],
            "center": data.get("center", REFERENCE_CENTER), "input_range": [-1.0, 1.0],
            "input_scaling": "x / 127.5 - 1 of uint8 grayscale", "calibration": checkpoint.get(CALIBRATION_KEY)}


def export_torchscript(model: torch.nn.Module, example: torch.Tensor, path: Path, meta: dict) -> float:
    """Trace ``model`` (eval mode) on ``example``, save it, reload it; returns the max abs difference."""
    model = model.eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
    with atomic_path(path) as tmp:
        torch.jit.save(traced, str(tmp), _extra_files={METADATA: json.dumps(meta)})
    loaded = torch.jit.load(str(path), map_location="cpu")
    check = check_clips(example.shape[1:])
    with torch.no_grad():
        return float((loaded(check) - model(check)).abs().max())


def check_clips(shape) -> torch.Tensor:
    """Two seeded random clips of ``shape`` (C, T, H, W), uniform in [-1, 1]: the export checks' input."""
    return torch.rand((2, *shape), generator=torch.Generator().manual_seed(0)) * 2 - 1


def export(cfg: DictConfig) -> float:
    fmt = cfg.get("format", "torchscript")
    if fmt not in ("torchscript", "onnx"):
        raise ConfigError(f"format={fmt}: expected torchscript or onnx")
    if fmt == "onnx":
        from lnta.deploy.onnx import export_onnx, require_onnx
        require_onnx()  # before any work
    checkpoint = load_checkpoint(cfg.ckpt_path)
    meta = metadata(checkpoint)
    model = module_from_checkpoint(checkpoint).model
    size = meta["image_size"]
    example = torch.zeros(1, model.in_channels, meta["clip_len"], size, size)
    if fmt == "torchscript":
        diff, tolerance = export_torchscript(model, example, Path(cfg.out), meta), cfg.tolerance
    else:
        diff = export_onnx(model, example, Path(cfg.out), meta, check_clips(example.shape[1:]))
        tolerance = cfg.onnx_tolerance
    if diff > tolerance:
        raise DataError(f"out={cfg.out}: exported model differs from the checkpoint by {diff:.3g} "
                        f"(> {'tolerance' if fmt == 'torchscript' else 'onnx_tolerance'}={tolerance})")
    log.info("exported %s -> %s (%s), max abs reconstruction difference %.3g (tolerance %g)", cfg.ckpt_path,
             cfg.out, "TorchScript" if fmt == "torchscript" else "ONNX, checked with onnxruntime", diff, tolerance)
    return diff
