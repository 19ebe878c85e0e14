"""Our checkpoints: the run's resolved config travels inside them, so a checkpoint stands alone."""
from __future__ import annotations

from pathlib import Path

import hydra
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from lnta.calibration import CALIBRATION_KEY
from lnta.errors import DataError
from lnta.io import atomic_path
from lnta.module import CONFIG_KEY, LNTAModule


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoint files written through :func:`lnta.io.atomic_path`: a kill mid-write leaves the
    previous file intact, never a truncated one that a resume would trust."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None or "://" in str(path):  # remote storage: Lightning's own writer
            return super().save_checkpoint(checkpoint, path, storage_options)
        with atomic_path(Path(path)) as tmp:
            torch.save(checkpoint, tmp)


def attach_config(module: LNTAModule, config: dict) -> None:
    """Make every checkpoint of ``module`` carry ``config`` (plain containers only)."""
    module.lnta_config = config


def load_checkpoint(path: str | Path) -> dict:
    """Load one of our checkpoints safely (``weights_only=True``: no code runs)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"ckpt_path={path}: checkpoint not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read is the user's file
        raise DataError(f"ckpt_path={path}: not a readable lnta checkpoint ({exc.__class__.__name__})") from None
    if CONFIG_KEY not in checkpoint:
        raise DataError(f"ckpt_path={path}: no '{CONFIG_KEY}' inside; not an lnta checkpoint "
                        "(authors' checkpoints: convert them first)")
    return checkpoint


def module_from_checkpoint(checkpoint: dict) -> LNTAModule:
    """The AE of a loaded checkpoint, wrapped for testing (no pseudo anomalies)."""
    model = hydra.utils.instantiate(checkpoint[CONFIG_KEY]["model"])
    module = LNTAModule(model)
    module.load_state_dict(checkpoint["state_dict"])
    attach_config(module, checkpoint[CONFIG_KEY])
    setattr(module, CALIBRATION_KEY, checkpoint.get(CALIBRATION_KEY))
    return module
