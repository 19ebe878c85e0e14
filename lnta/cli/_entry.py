"""What the command-line entry points share: building objects from the config, clear errors."""
from __future__ import annotations

import functools
import logging
import os
import re
import sys
import warnings
from pathlib import Path

import hydra
from hydra.errors import CompactHydraException, InstantiationException, MissingConfigException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from lnta.cli.rundir import guard_run_dir
from lnta.errors import LntaError
from lnta.cli.help import register_resolver as register_help
from lnta.reporting.results import register_resolver
from lnta.trainer.slots import register_resolver as register_slots

log = logging.getLogger("lnta")

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
_FORCED = "_LNTA_FORCED_HYDRA_FULL_ERROR"


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


_APPEND_HINT = re.compile(r"To append to your config use \+(\S+?)=")


def _sweep_hint(message: str, argv: list[str] | None = None) -> str:
    """In a multirun, Hydra's "use +KEY=VALUE" hint fails for every job whose config has KEY already (a sweep
    over experiments or anomaly types, where only some options have it): ``++KEY=VALUE`` works in every job
    (set where present, added where absent), and where no job has KEY it does what ``+`` does."""
    argv = sys.argv[1:] if argv is None else argv
    match = _APPEND_HINT.search(message)
    if match is None or not {"-m", "--multirun"} & set(argv):
        return ""
    return (f"; in a multirun, use ++{match.group(1)}=... (it works in every job: sets the key where the job's "
            "config has it, adds it where not)")


def user_error(exc: BaseException) -> str | None:
    """The one-line message of a user mistake behind ``exc``, or None for a bug.

    User mistakes: our :class:`LntaError` (also when Hydra wraps it while instantiating), Hydra's
    composition errors (unknown config name, bad override), OmegaConf errors (missing or
    mistyped value) and file-system errors naming a path (e.g. an unwritable output dir).
    """
    cause = exc
    while isinstance(cause, InstantiationException) and cause.__cause__ is not None:
        cause = cause.__cause__
    if isinstance(cause, LntaError):
        return str(cause)
    if isinstance(exc, MissingConfigException) and exc.options:
        return f"{_one_line(str(exc).split('Available options')[0])} (available: {', '.join(exc.options)})"
    if isinstance(exc, (CompactHydraException, OmegaConfBaseException)):
        reason = exc.__cause__ if isinstance(exc.__cause__, OmegaConfBaseException) else None
        message = _one_line(str(exc))
        message = f"{message} ({_one_line(str(reason).split('full_key:')[0])})" if reason else message
        return message + _sweep_hint(message)
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc} (check the path and its permissions)"
    log_file = exc.__cause__
    if isinstance(exc, ValueError) and str(exc).startswith("Unable to configure handler") \
            and isinstance(log_file, OSError) and log_file.filename:  # Hydra opening <run dir>/<task>.log
        return (f"{log_file.filename}: cannot write the command's log file ({log_file.strerror or log_file}); "
                "choose a writable hydra.run.dir")
    return None


def interrupted(exc: BaseException) -> int | None:
    """The exit code (128 + signal) when ``exc`` is a run stopped on a signal, else None.

    :class:`lnta.callbacks.progress.Interrupted` has logged where it saved and how to resume;
    Lightning's ``SIGTERMException`` (a SIGTERM while testing; training has its own handler) gets one
    line here: it is a ``SystemExit`` without a code, which would exit 0.
    """
    progress = sys.modules.get("lnta.callbacks.progress")
    if progress is not None and isinstance(exc, progress.Interrupted):
        return exc.exit_code
    exceptions = sys.modules.get("pytorch_lightning.utilities.exceptions")
    if exceptions is not None and isinstance(exc, exceptions.SIGTERMException):
        print("error: stopped by SIGTERM", file=sys.stderr)
        return 128 + 15
    return None


def _full_tracebacks() -> bool:
    """Whether the user asked for full tracebacks (``HYDRA_FULL_ERROR=1`` set by them, not by us)."""
    return os.environ.get("HYDRA_FULL_ERROR") == "1" and _FORCED not in os.environ


def clear_errors(entry):
    """Make ``entry`` print a user mistake as one line ``error: ...`` and exit 2.

    Bugs keep their traceback; ``HYDRA_FULL_ERROR=1`` shows the traceback of every error. While
    ``entry`` runs, Hydra re-raises errors instead of printing its own multi-line report.
    """

    @functools.wraps(entry)
    def wrapper(*args, **kwargs):
        if _full_tracebacks():
            return entry(*args, **kwargs)
        forced = _FORCED not in os.environ
        if forced:
            os.environ.update({"HYDRA_FULL_ERROR": "1", _FORCED: "1"})
        try:
            return entry(*args, **kwargs)
        except SystemExit as exc:  # Lightning's SIGTERMException (a SIGTERM while testing) would exit 0
            code = interrupted(exc)
            if code is None:
                raise
            sys.exit(code)
        except Exception as exc:  # noqa: BLE001 - filtered just below
            code = interrupted(exc)
            if code is not None:
                sys.exit(code)
            message = user_error(exc)
            if message is None:
                raise
            print(f"error: {message}", file=sys.stderr)
            sys.exit(2)
        finally:
            if forced:
                for key in ("HYDRA_FULL_ERROR", _FORCED):
                    os.environ.pop(key, None)

    return wrapper


_LIGHTNING_LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero")


class LightningNoise(logging.Filter):
    """Drops Lightning's "💡 Tip" adverts and repeats of its start-up lines ("GPU available: ...",
    "Using bfloat16 ..."), which it logs again for every ``Trainer``: one banner per command."""

    def __init__(self):
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.lstrip().startswith("💡 Tip"):
            return False
        if not message.startswith(("GPU available", "TPU available", "HPU available", "Using ")):
            return True
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


def quiet_logs() -> None:
    """Silence what our dependencies print that the user can do nothing about (idempotent).

    - Lightning's adverts and repeated banners (:class:`LightningNoise` on its rank-zero loggers);
    - the ``FutureWarning`` of torch's ``LeafSpec`` that Lightning's ``_pytree`` triggers on every fit;
    - Lightning's warning that an epoch has fewer batches than ``log_every_n_steps`` (a reduced-scale run,
      ``trainer.limit_train_batches``): its step counter runs on across epochs, so a run of more steps in all
      than the interval still logs its training curve every ``log_every_n_steps`` steps; a shorter one (a
      debugging run) logs none, and its test metrics as always.
    """
    for name in _LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, LightningNoise) for f in logger.filters):
            logger.addFilter(LightningNoise())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
    warnings.filterwarnings("ignore",
                            message=r"The number of training batches \(\d+\) is smaller than the logging interval")


def _quiet(task):
    """``task`` with :func:`quiet_logs` and log lines written above progress bars, not onto them."""

    @functools.wraps(task)
    def wrapper(*args, **kwargs):
        from tqdm.contrib.logging import logging_redirect_tqdm

        quiet_logs()
        with logging_redirect_tqdm(loggers=[logging.getLogger()]):  # Hydra's console handler
            return task(*args, **kwargs)

    return wrapper


def entry_point(config_name: str):
    """``hydra.main`` over ``conf/<config_name>.yaml`` with :func:`clear_errors` outside (Hydra's
    composition errors) and inside (errors of the task, before Hydra reports them), and
    :func:`quiet_logs` while the task runs; the numeric settings are checked against
    :func:`lnta.cli.settings.all_ranges` before the task runs; the task holds its run dir's lock (:func:`lnta.cli.rundir.guard_run_dir`)."""

    def decorate(task):
        @functools.wraps(task)
        def checked(cfg: DictConfig):
            from lnta.cli.settings import all_ranges  # every command: numeric settings in range first
            from lnta.validate import check_ranges

            check_ranges(cfg, all_ranges())
            return task(cfg)

        register_resolver()  # ${lnta_job_name:...} names multirun job folders (conf/hydra/default.yaml)
        register_help()      # ${lnta_help:...} is the --help text
        register_slots()     # ${lnta_gpu_slot:} is trainer=gpu_slot's device
        return clear_errors(hydra.main(version_base="1.3", config_path=str(CONF_DIR),
                                       config_name=config_name)(clear_errors(guard_run_dir(_quiet(checked)))))

    return decorate


def build_named(cfg: DictConfig | None) -> dict:
    """Instantiate every ``_target_`` block of a group like ``callbacks``, keyed by its name there."""
    return {name: hydra.utils.instantiate(c) for name, c in (cfg or {}).items() if c and "_target_" in c}


def build_list(cfg: DictConfig | None) -> list:
    """Instantiate every ``_target_`` block of a group like ``callbacks`` or ``logger``."""
    return list(build_named(cfg).values())


def finish_loggers(loggers, failed: bool = False) -> None:
    """Close the runs of ``loggers`` that hold one open (W&B; ``failed``: exit code 1): the next job
    of a multirun in this process must start its own run, not log into this one."""
    if any(type(logger).__name__ == "WandbLogger" for logger in loggers):
        import wandb

        if wandb.run is not None:
            wandb.finish(exit_code=1 if failed else 0)
