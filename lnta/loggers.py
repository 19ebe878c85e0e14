"""Logger factories that need more than a config's ``_target_``."""
from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def _wandb_has_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        import wandb

        return bool(wandb.api.api_key)
    except Exception:  # noqa: BLE001 - any failure to find a key means: no key
        return False


def wandb_logger(project: str, save_dir: str, mode: str = "auto", **kwargs):
    """A ``WandbLogger``; ``mode=auto`` runs offline when no API key is configured.

    Offline runs are synced later with ``wandb sync <save_dir>/wandb/offline-run-*``.
    """
    from pytorch_lightning.loggers import WandbLogger

    offline = mode == "offline" or (mode == "auto" and not _wandb_has_key())
    if offline:
        log.info("W&B offline; sync later with: wandb sync %s/wandb/offline-run-*", save_dir)
    return WandbLogger(project=project, save_dir=save_dir, offline=offline, **kwargs)
