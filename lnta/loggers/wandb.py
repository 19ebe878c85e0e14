"""Logger factories that need more than a config's ``_target_``."""
from __future__ import annotations

import configparser
import logging
import netrc
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from lnta.errors import ConfigError
from lnta.io import write_text

log = logging.getLogger(__name__)


def _wandb_settings_files() -> list[Path]:
    """W&B's global settings file (``$WANDB_CONFIG_DIR/settings``, else ``~/.config/wandb/settings``)
    and the workspace one (``./wandb/settings``), as ``wandb`` itself reads them."""
    config_dir = os.environ.get("WANDB_CONFIG_DIR")
    system = Path(config_dir) / "settings" if config_dir else Path.home() / ".config" / "wandb" / "settings"
    return [system, Path("wandb") / "settings"]


def _wandb_setting(key: str) -> str | None:
    value = None
    for path in _wandb_settings_files():
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except (OSError, configparser.Error):
            continue
        value = parser.get("default", key, fallback=value)
    return value or None


def wandb_has_key() -> bool:
    """Whether W&B can log in without asking: ``WANDB_API_KEY`` (or ``WANDB_IDENTITY_TOKEN_FILE``), a
    ``.netrc`` entry (``$NETRC``, else ``~/.netrc``) for the W&B host, or an ``api_key`` in W&B's settings.

    Reads the files only: ``wandb`` is not imported, so nothing of its global state is set up before
    the run decides between online and offline.
    """
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    base_url = os.environ.get("WANDB_BASE_URL") or _wandb_setting("base_url") or "https://api.wandb.ai"
    host = urlsplit(base_url).hostname or base_url
    netrc_path = os.environ.get("NETRC") or str(Path.home() / ".netrc")
    try:
        if netrc.netrc(netrc_path).authenticators(host):
            return True
    except (OSError, netrc.NetrcParseError):
        pass
    return _wandb_setting("api_key") is not None


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
    if mode not in ("auto", "online", "offline"):
        raise ConfigError(f"logger.wandb.mode={mode}: expected auto, online or offline")
    offline = mode == "offline" or (mode == "auto" and not wandb_has_key())
    if offline:
        # wandb.init reads the mode from its settings; Lightning's offline flag alone only sets an
        # environment variable, which W&B ignores once it has been set up in this process
        kwargs["mode"] = "offline"
        kwargs.setdefault("settings", {"silent": True})  # its own start/end notes would repeat the hint
        log.info("W&B offline (%s); sync later with: wandb sync %s/wandb/offline-run-*",
                 "logger.wandb.mode=offline" if mode == "offline" else "no API key configured", save_dir)
    logger = WandbLogger(project=project, save_dir=save_dir, offline=offline, name=name or default_name,
                         group=group or default_group, tags=list(dict.fromkeys([*tags, *fact_tags])), **kwargs)
    if logger._wandb_init.get("anonymous") is None:  # Lightning passes None, which W&B >= 0.19 warns about
        logger._wandb_init.pop("anonymous", None)
    return logger
