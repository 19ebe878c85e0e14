"""TorchScript export of the autoencoder (``python -m lnta.export``, the default format), checked by reloading it.

The archive maps a (B, 1, T, H, W) clip in [-1, 1] to its reconstruction and carries ``lnta.json``
(:func:`lnta.deploy.metadata.metadata`: image size, clip length, scored frame, calibration) as an extra file.
"""
from __future__ import annotations

from pathlib import Path

import torch

from lnta.deploy.metadata import METADATA, check_clips
from lnta.io import atomic_path, json_text


def export_torchscript(model: torch.nn.Module, example: torch.Tensor, path: Path, meta: dict) -> float:
    """Trace ``model`` (eval mode) on ``example``, save it, reload it; returns the max abs difference."""
    model = model.eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
    with atomic_path(path) as tmp:
        torch.jit.save(traced, str(tmp), _extra_files={METADATA: json_text(meta)})
    loaded = torch.jit.load(str(path), map_location="cpu")
    check = check_clips(example.shape[1:])
    with torch.no_grad():
        return float((loaded(check) - model(check)).abs().max())
