"""``python -m lnta.export ckpt_path=FILE out=FILE.pt``: the AE as TorchScript for deployment.

The file maps a (B, 1, T, H, W) clip in [-1, 1] to its reconstruction and carries ``lnta.json``
(image size, clip length, scored frame, calibration) as an extra file. The export is checked by
reloading it and comparing its reconstructions with the checkpoint's model.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from omegaconf import DictConfig

from lnta.metrics.calibration import CALIBRATION_KEY
from lnta.trainer.checkpoint import CONFIG_KEY, load_checkpoint, module_from_checkpoint
from lnta.data.sampling import REFERENCE_CENTER
from lnta.errors import DataError
from lnta.io import atomic_path, json_text

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
        torch.jit.save(traced, str(tmp), _extra_files={METADATA: json_text(meta)})
    loaded = torch.jit.load(str(path), map_location="cpu")
    check = torch.rand((2, *example.shape[1:]), generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        return float((loaded(check) - model(check)).abs().max())


def export(cfg: DictConfig) -> float:
    checkpoint = load_checkpoint(cfg.ckpt_path)
    meta = metadata(checkpoint)
    model = module_from_checkpoint(checkpoint).model
    size = meta["image_size"]
    example = torch.zeros(1, model.in_channels, meta["clip_len"], size, size)
    diff = export_torchscript(model, example, Path(cfg.out), meta)
    if diff > cfg.tolerance:
        raise DataError(f"out={cfg.out}: exported model differs from the checkpoint by {diff:.3g} "
                        f"(> tolerance={cfg.tolerance})")
    log.info("exported %s -> %s (TorchScript), max abs reconstruction difference %.3g", cfg.ckpt_path, cfg.out, diff)
    return diff
