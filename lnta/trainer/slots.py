"""Device slots for parallel single-GPU jobs on one machine: each process claims one free GPU.

``trainer=gpu_slot`` sets ``trainer.devices: ${lnta_gpu_slot:}``; the resolver takes an exclusive
lock file per GPU and keeps it for the life of the process, so a joblib worker (or any process)
keeps one GPU for all its jobs and never shares it with another job.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

from omegaconf import OmegaConf

from lnta.errors import ConfigError

_held: dict[str, tuple[int, int]] = {}  # lock dir -> (slot, open locked fd)


def claim_slot(n_slots: int, lock_dir: str | Path) -> int:
    """The first of ``n_slots`` slots whose lock this process holds or can take; held until exit."""
    lock_dir = Path(lock_dir)
    if str(lock_dir) in _held:
        return _held[str(lock_dir)][0]
    lock_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(n_slots):
        fd = os.open(lock_dir / f"slot{slot}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _held[str(lock_dir)] = (slot, fd)
        return slot
    raise ConfigError(f"trainer=gpu_slot: all {n_slots} GPUs are taken by other jobs ({lock_dir}); "
                      "run at most one job per GPU (hydra.launcher.n_jobs)")


def gpu_slot(lock_dir: str | None = None) -> list[int]:
    """``[index]`` of a free CUDA GPU on this machine, for ``trainer.devices``."""
    import torch

    n = torch.cuda.device_count()
    if n == 0:
        raise ConfigError("trainer=gpu_slot: no CUDA GPU is visible on this machine")
    lock_dir = lock_dir or Path(tempfile.gettempdir()) / f"lnta-gpu-slots-{os.getuid()}"
    return [claim_slot(n, lock_dir)]


def register_resolver() -> None:
    """Register ``${lnta_gpu_slot:}`` (``trainer=gpu_slot``) with OmegaConf (idempotent); every command does,
    before Hydra composes its config."""
    if not OmegaConf.has_resolver("lnta_gpu_slot"):
        OmegaConf.register_new_resolver("lnta_gpu_slot", lambda: gpu_slot())
