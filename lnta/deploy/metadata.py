"""What every exported model carries besides the network (``lnta.json``), and the clips its export is checked on."""
from __future__ import annotations

import torch

from lnta.data.sampling import REFERENCE_CENTER
from lnta.metrics.calibration import CALIBRATION_KEY
from lnta.trainer.checkpoint import CONFIG_KEY

METADATA = "lnta.json"


def metadata(checkpoint: dict) -> dict:
    """What a deployment needs besides the network: input geometry and the calibration statistics."""
    data = checkpoint[CONFIG_KEY]["data"]
    return {"image_size": data["image_size"], "clip_len": data["clip_len"],
            "center": data.get("center", REFERENCE_CENTER), "input_range": [-1.0, 1.0],
            "input_scaling": "x / 127.5 - 1 of uint8 grayscale", "calibration": checkpoint.get(CALIBRATION_KEY)}


def check_clips(shape) -> torch.Tensor:
    """Two seeded random clips of ``shape`` (C, T, H, W), uniform in [-1, 1]: the export checks' input."""
    return torch.rand((2, *shape), generator=torch.Generator().manual_seed(0)) * 2 - 1
