"""One run per run dir: a lock file while a command runs, and ``.hydra/`` replaced only on success.

Every command runs its task through :func:`guard_run_dir` (:func:`lnta.cli._entry.entry_point`):

- it takes ``<run dir>/.lnta.lock`` with ``flock``; while another lnta process holds it, the
  command stops with one line naming that process, so two runs never write the same
  ``metrics.json``/``scores.csv``/checkpoints. The kernel drops the lock when its process dies, so
  the lock of a killed run is taken over (with a warning) and ``ckpt_path=auto`` resumes as before.
  Where the file system has no ``flock``, the pid and host in the file decide: a dead pid on this
  host is a stale lock.
- it writes the job's config files (``config.yaml``, ``hydra.yaml``, ``overrides.yaml``, what
  Hydra would write itself with ``hydra.output_subdir``) into ``.hydra/`` at once when the run dir
  has none, and otherwise only when the command succeeds, replacing them as a set: a failed or
  refused invocation leaves the ``.hydra/`` beside the older results untouched.
- a command that fails in a run dir it created itself, having written nothing into it but Hydra's own
  files (``.hydra/`` and the ``<task>.log``), removes that run dir, so failed attempts leave no empty
  folders. "Created itself": at the start the folder held only empty ``*.log`` files, no ``.hydra/``,
  and had changed since this process started. Anything else in it at the end (a checkpoint, ``csv/``,
  any result, a file of the user) keeps the folder, as does every run dir that existed with content.
"""
from __future__ import annotations

import atexit
import functools
import errno
import fcntl
import json
import logging
import os
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from lnta.errors import LntaError
from lnta.io import pid_alive, staged_outputs

log = logging.getLogger("lnta")

LOCK_NAME = ".lnta.lock"
#: Environment variables that mark a worker process of a multi-process job (not its first process).
WORKER_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")
_NO_FLOCK = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


class RunDirBusy(LntaError):
    """Another lnta process is writing into this run dir."""


def _describe(holder: dict) -> str:
    if not holder:
        return "a process that is starting"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
    return f"pid {holder.get('pid')} on {holder.get('host')} since {started}: {holder.get('command', '?')}"


class RunDirLock:
    """An exclusive lock on a run dir: the file ``<folder>/.lnta.lock`` naming its holder."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def _read(self, fd: int) -> dict:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            return json.loads(os.read(fd, 1 << 16).decode() or "{}")
        except (OSError, ValueError):
            return {}

    def _busy(self, holder: dict) -> RunDirBusy:
        return RunDirBusy(f"hydra.run.dir={self.folder}: in use by another lnta run ({_describe(holder)}); wait "
                          f"for it to finish or choose another hydra.run.dir (lock file: {self.path})")

    def acquire(self) -> RunDirLock:
        """Take the lock, or raise :class:`RunDirBusy`; a lock left by a dead process is taken over."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._read(fd)
                os.close(fd)
                raise self._busy(holder) from None
            except OSError as exc:
                if exc.errno not in _NO_FLOCK:
                    os.close(fd)
                    raise
                holder = self._read(fd)  # no flock here: the pid and host in the file decide
                if holder and holder.get("pid") != os.getpid() and (
                        holder.get("host") != socket.gethostname() or pid_alive(int(holder.get("pid", 0)))):
                    os.close(fd)
                    raise self._busy(holder) from None
            try:  # a run that releases unlinks the file: lock the file that is at the path now
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = self._read(fd)
        if previous and previous.get("pid") != os.getpid():
            log.warning("%s: taking over the lock of %s, which is no longer running", self.folder, _describe(previous))
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
              "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:500]}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(me).encode())
        self._fd = fd
        atexit.register(self.release)
        return self

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None


def is_worker_process() -> bool:
    """Whether this is a secondary process of a multi-process job (DDP ranks > 0, SLURM tasks > 0),
    which writes into the run dir of its first process."""
    return any(os.environ.get(name, "0") not in ("", "0") for name in WORKER_RANK_VARIABLES)


#: Where the job's config files go inside the run dir (Hydra's own writer is off: ``hydra.output_subdir: null``).
CONFIG_DIR = ".hydra"


def config_files(cfg: DictConfig, hydra_cfg: DictConfig) -> dict[str, str]:
    """The YAML files Hydra writes into ``.hydra/``: the job's config, Hydra's, the overrides."""
    return {"config.yaml": OmegaConf.to_yaml(cfg),
            "hydra.yaml": OmegaConf.to_yaml(OmegaConf.create({"hydra": hydra_cfg})),
            "overrides.yaml": OmegaConf.to_yaml(hydra_cfg.overrides.task)}


def write_config_dir(folder: Path, files: dict[str, str]) -> None:
    """Replace ``folder`` (e.g. ``<run dir>/.hydra``) by one holding ``files``, as a set."""
    with staged_outputs(folder.parent) as stage:
        (stage / folder.name).mkdir()
        for name, text in files.items():
            (stage / folder.name / name).write_text(text)


#: When this process started running commands (before Hydra made any run dir of it), with a margin for
#: the coarse clock of file-system timestamps (they lag ``time.time()`` by up to a clock tick).
_STARTED = time.time() - 0.1


def _made_by_this_command(run_dir: Path) -> bool:
    """Whether ``run_dir``, at the start of the task, looks as Hydra leaves a folder it has just made:
    only empty top-level ``*.log`` files (its job log, nothing logged yet), no ``.hydra/``, changed since
    this process started."""
    try:
        entries = list(run_dir.iterdir())
        changed = run_dir.stat().st_ctime
    except OSError:
        return False
    return (not run_dir.is_symlink() and changed >= _STARTED
            and all(e.suffix == ".log" and e.is_file() and not e.is_symlink() and e.stat().st_size == 0
                    for e in entries))


def _holds_only_hydra_files(run_dir: Path) -> bool:
    """Whether every file under ``run_dir`` is ``.hydra/*`` or a top-level ``*.log`` (empty folders aside)."""
    for path in run_dir.rglob("*"):
        parts = path.relative_to(run_dir).parts
        if path.is_dir() and not path.is_symlink():
            continue
        if not (parts[0] == CONFIG_DIR or (len(parts) == 1 and path.suffix == ".log")):
            return False
    return True


def _remove_if_nothing_written(run_dir: Path) -> None:
    if _holds_only_hydra_files(run_dir):
        shutil.rmtree(run_dir, ignore_errors=True)
        log.debug("removed %s: the failed command had created it and written nothing into it", run_dir)


def guard_run_dir(task):
    """Run the Hydra task ``task(cfg)`` holding its run dir's lock, writing ``.hydra/`` at once
    into a run dir that has none, else only after ``task`` succeeded; a failed task removes the run dir
    it created if it wrote nothing into it (see the module docstring)."""

    @functools.wraps(task)
    def wrapper(cfg: DictConfig):
        if is_worker_process() or not HydraConfig.initialized():
            return task(cfg)
        hydra_cfg = HydraConfig.get()
        run_dir = Path(hydra_cfg.runtime.output_dir)
        made_here = _made_by_this_command(run_dir)
        lock = RunDirLock(run_dir).acquire()
        failed = True
        try:
            folder, files = run_dir / CONFIG_DIR, config_files(cfg, hydra_cfg)
            if not folder.is_dir():
                write_config_dir(folder, files)
                files = None
            result = task(cfg)
            if files:  # older results beside the old config: replaced only now
                write_config_dir(folder, files)
            failed = False
            return result
        finally:
            lock.release()
            if failed and made_here:
                _remove_if_nothing_written(run_dir)

    return wrapper
