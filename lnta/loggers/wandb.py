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


def _fmt(value) -> str:
    return "-".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def run_identity(facts: dict) -> tuple[str, str, list[str]]:
    """Name, group and tags of a run from its experiment, dataset, method, p/s/alpha/beta and seed.

    The group is the name without the seed, so the seeds of one setting are grouped.
    """
    setting = [f"{key}{_fmt(facts[key])}" for key in ("p", "s", "alpha", "beta") if facts.get(key) is not None]
    experiment = facts.get("experiment") or f"{facts.get('dataset')}_{facts.get('anomaly')}"
    group = "_".join([experiment, *setting])
    tags = [str(facts[k]) for k in ("dataset", "anomaly") if facts.get(k)]
    tags += [f"{key}={_fmt(facts[key])}" for key in ("p", "s", "alpha", "beta") if facts.get(key) is not None]
    return f"{group}_seed{facts.get('seed')}", group, tags


def wandb_logger(project: str, save_dir: str, mode: str = "auto", name: str | None = None,
                 group: str | None = None, tags=(), facts: dict | None = None, **kwargs):
    """A ``WandbLogger``; ``mode=auto`` runs offline when no API key is configured.

    ``name``/``group`` default to :func:`run_identity` of ``facts``, whose tags are added to ``tags``.
    Offline runs are synced later with ``wandb sync <save_dir>/wandb/offline-run-*``. Unless an
    ``id`` is given, the run id is kept in ``<save_dir>/wandb_run_id`` and resumed (``resume=allow``).
    """
    from omegaconf import OmegaConf
    from pytorch_lightning.loggers import WandbLogger

    kwargs.setdefault("id", run_id(save_dir))
    kwargs.setdefault("resume", "allow")

    facts = OmegaConf.to_container(facts) if OmegaConf.is_config(facts) else dict(facts or {})
    default_name, default_group, fact_tags = run_identity(facts)
    offline = mode == "offline" or (mode == "auto" and not _wandb_has_key())
    if offline:
        message = f"W&B offline; sync later with: wandb sync {save_dir}/wandb/offline-run-*"
        log.info(message)
        print(message)
    return WandbLogger(project=project, save_dir=save_dir, offline=offline, name=name or default_name,
                       group=group or default_group, tags=list(dict.fromkeys([*tags, *fact_tags])), **kwargs)
