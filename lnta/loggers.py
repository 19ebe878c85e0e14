"""Logger factories that need more than a config's ``_target_``."""
from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

from lnta.io import write_text

log = logging.getLogger(__name__)


def _wandb_has_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        import wandb

        return bool(wandb.api.api_key)
    except Exception:  # noqa: BLE001 - any failure to find a key means: no key
        return False


def run_id(save_dir: str) -> str:
    """This run dir's W&B run id, created once: a resumed run logs into the same W&B run."""
    path = Path(save_dir) / "wandb_run_id"
    if path.is_file():
        return path.read_text().strip()
    new = uuid.uuid4().hex[:12]
    write_text(path, new + "\n")
    return new


def wandb_logger(project: str, save_dir: str, mode: str = "auto", **kwargs):
    """A ``WandbLogger``; ``mode=auto`` runs offline when no API key is configured.

    Offline runs are synced later with ``wandb sync <save_dir>/wandb/offline-run-*``. Unless an
    ``id`` is given, the run id is kept in ``<save_dir>/wandb_run_id`` and resumed (``resume=allow``).
    """
    from pytorch_lightning.loggers import WandbLogger

    kwargs.setdefault("id", run_id(save_dir))
    kwargs.setdefault("resume", "allow")

    offline = mode == "offline" or (mode == "auto" and not _wandb_has_key())
    if offline:
        log.info("W&B offline; sync later with: wandb sync %s/wandb/offline-run-*", save_dir)
    return WandbLogger(project=project, save_dir=save_dir, offline=offline, **kwargs)
