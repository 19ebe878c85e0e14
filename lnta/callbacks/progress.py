"""Long runs that respect the user: the plan at start, one progress bar with an ETA over the whole
fit, and a clean stop on Ctrl-C or SIGTERM that saves ``last.ckpt`` and prints the command that resumes."""
from __future__ import annotations

import datetime
import logging
import shlex
import signal
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import TQDMProgressBar

from lnta.callbacks.resume import LAST
from lnta.data.sampling import ClipIndex

log = logging.getLogger(__name__)


def _duration(seconds: float) -> str:
    return str(datetime.timedelta(seconds=round(seconds)))


def total_steps(trainer: pl.Trainer) -> int:
    """Optimizer steps of the whole fit: ``max_steps`` or epochs x batches per epoch, whichever is first."""
    return int(trainer.estimated_stepping_batches)


def _after_fit_clips(trainer, pl_module) -> tuple[int, int]:
    """``(calibration clips, test clips)`` that run after the last training step: the run config's
    ``evaluation.calibration.max_clips`` (0 without calibration), at most the clips the data module offers
    for it (its ``calibration_clips()``: the training clips, or the held-out videos' of ``data=folder``), and
    the test split's clips where the data module has checked it (0 otherwise)."""
    config = getattr(pl_module, "config", None) or {}
    calibration = ((config.get("evaluation") or {}).get("calibration") or {}).get("max_clips", 0)
    dm = trainer.datamodule
    labels, clip_len = getattr(dm, "test_labels", None), getattr(dm, "clip_len", 16)
    if calibration and callable(getattr(dm, "calibration_clips", None)):  # the clips calibrate_after_fit samples
        calibration = dm.calibration_clips().count(clip_len, calibration)
    tests = len(ClipIndex([len(v) for v in labels.values()], clip_len)) if labels and config.get("test_after_fit") else 0
    return int(calibration), int(tests)


#: A fit estimated longer than this (seconds) gets the hint of a smaller scale.
LONG_RUN_S = 3600
#: The words of the plan's estimate line between the step time and the steps timed (``lnta.demo`` relays it).
ESTIMATE = " s per step over "


class RunPlan(pl.Callback):
    """Logs the plan when training starts (data, batches per epoch, epochs, steps in all) and, after
    ``timed_steps`` steps past the first (which includes start-up costs), the measured time per step and
    the estimated total time and end of the fit, and what runs after it (the calibration pass and the test,
    estimated from the step time: a clip's forward pass costs about a third of its training step)."""

    def __init__(self, timed_steps: int = 5):
        self.timed_steps = timed_steps
        self._start_step = self._start_time = None

    def on_train_start(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        dm = trainer.datamodule
        data = getattr(dm, "name", type(dm).__name__) if dm is not None else "data"
        train_set = getattr(dm, "train_set", None)
        clips = f"{len(train_set)} training clips, " if train_set is not None and hasattr(train_set, "__len__") else ""
        batch = getattr(dm, "batch_size", None)
        steps = total_steps(trainer)
        done = f", resuming at step {trainer.global_step}" if trainer.global_step else ""
        log.info("plan: %s: %s%s%s batches per epoch, %s epochs, %d optimizer steps in all%s",
                 data, clips, f"batch {batch}, " if batch else "", trainer.num_training_batches,
                 trainer.max_epochs if trainer.max_epochs not in (None, -1) else "unbounded", steps, done)
        model = getattr(pl_module, "model", pl_module)
        anomalies = [f"{a.name} p={a.p:g}" for a in getattr(pl_module, "anomalies", ())]
        log.info("plan: %s of %s parameters; pseudo anomalies: %s", type(model).__name__,
                 f"{sum(p.numel() for p in model.parameters()):,}", ", ".join(anomalies) or "none (the plain AE)")
        self._start_step, self._start_time = None, None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not trainer.is_global_zero or self._start_time is False:
            return
        if self._start_time is None:  # the clock starts after the first step
            self._start_step, self._start_time = trainer.global_step, time.monotonic()
            return
        done = trainer.global_step - self._start_step
        if done < self.timed_steps:
            return
        per_step = (time.monotonic() - self._start_time) / done
        left = max(total_steps(trainer) - trainer.global_step, 0) * per_step
        calibration, tests = _after_fit_clips(trainer, pl_module)
        batch = max(int(getattr(trainer.datamodule, "batch_size", 1) or 1), 1)
        after_clips = calibration + tests
        after = after_clips * per_step / (3 * batch)
        parts = [f"{calibration} calibration clips" if calibration else "", f"{tests} test clips" if tests else ""]
        then = f", then ~{_duration(after)} for {' and '.join(p for p in parts if p)}" if after_clips else ""
        end = datetime.datetime.now() + datetime.timedelta(seconds=left + after)
        log.info("plan: %.2f" + ESTIMATE + "%d steps; about %s left for training%s (ends ~%s)",
                 per_step, done, _duration(left), then, end.strftime("%Y-%m-%d %H:%M"))
        if left + after > LONG_RUN_S:
            log.info("plan: a run of minutes on a CPU is +experiment=synthetic_skip (the demo's scale); the paper's "
                     "scale wants a GPU (README, 'Reproducing the paper')")
        self._start_time = False  # said once


class OverallProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar counting optimizer steps over the whole fit (not one epoch), so its ETA is
    the time left for training; the description says which epoch of how many is running."""

    def on_train_start(self, trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)
        bar = self.train_progress_bar
        bar.reset(total=total_steps(trainer))
        bar.initial = bar.n = trainer.global_step  # a resumed run's rate counts only its own steps
        self.on_train_epoch_start(trainer)  # a resume mid-epoch gets no epoch start from Lightning

    def on_train_epoch_start(self, trainer, *_) -> None:
        epochs = trainer.max_epochs if trainer.max_epochs not in (None, -1) else "?"
        self.train_progress_bar.set_description(f"Epoch {trainer.current_epoch + 1}/{epochs}")  # refreshes

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        bar = self.train_progress_bar
        if bar is not None and not bar.disable and self._should_update(trainer.global_step, bar.total):
            bar.n = trainer.global_step
            bar.set_postfix(self.get_metrics(trainer, pl_module))  # refreshes


class Interrupted(Exception):
    """Training stopped on a signal after saving ``last.ckpt``; ``exit_code`` is 128 + the signal."""

    def __init__(self, signum: int, resume: str):
        super().__init__(f"stopped by {signal.Signals(signum).name}; resume with: {resume}")
        self.exit_code, self.resume = 128 + signum, resume


def resume_command(output_dir: Path) -> str:
    """The command line that continues this run: the same command and overrides, this run dir, ``ckpt_path=last``."""
    module = "lnta.train"
    overrides = list(sys.argv[1:])
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            overrides = list(HydraConfig.get().overrides.task)
    except ImportError:  # pragma: no cover - hydra is a dependency
        pass
    kept = [o for o in overrides if not o.lstrip("+~").startswith(("hydra.run.dir=", "ckpt_path="))]
    return shlex.join(["python", "-m", module, *kept,
                       f"hydra.run.dir={output_dir}", "ckpt_path=last"])


class GracefulStop(pl.Callback):
    """Ctrl-C (SIGINT) or SIGTERM during training: finish the current step, save ``checkpoints/last.ckpt``,
    log the command that resumes, and stop with exit code 130 or 143 (raised as :class:`Interrupted`).

    From ``on_train_start`` to ``on_train_end`` both signals go to this callback's own handler, which only
    records them; the stop happens at the first ``on_train_batch_end`` after the signal, or at
    ``on_train_end`` when the signal came after the last step (the fit is then complete: the resume
    command only tests). Lightning's own SIGTERM handler is set aside meanwhile: it would raise its
    ``SIGTERMException`` at whichever loop boundary comes next (after a step, at an epoch end), a
    ``SystemExit`` without a code, i.e. exit 0 and no ``last.ckpt``, depending on when the signal landed.
    A SIGTERM that Lightning received before ``on_train_start`` (``trainer.received_sigterm``) counts too.
    Under DDP the ranks agree on the stop (any rank's signal stops all at the same step), and a signal
    is forwarded to the launcher's child processes as Lightning does.

    A second Ctrl-C stops at once (Lightning's own handling; the last saved checkpoint stays).
    """

    def __init__(self, output_dir: str):
        self.output_dir = Path(output_dir)
        self._signal: int | None = None
        self._previous: dict[int, object] = {}
        self._trainer = None

    def _on_signal(self, signum, frame) -> None:
        if signum == signal.SIGINT and self._signal is not None:  # pressed twice: the user means now
            signal.signal(signal.SIGINT, self._previous.get(signal.SIGINT) or signal.default_int_handler)
            raise KeyboardInterrupt
        first = self._signal is None
        self._signal = self._signal or signum
        launcher = getattr(getattr(self._trainer, "strategy", None), "launcher", None)
        if first and launcher is not None:  # DDP started by Lightning: its children stop too
            launcher.kill(signum)
        if first:
            again = " (press Ctrl-C again to abort now)" if signum == signal.SIGINT else ""
            log.warning("%s: stopping after this step and saving %s%s", signal.Signals(signum).name,
                        self.output_dir / LAST, again)

    def on_train_start(self, trainer, pl_module) -> None:
        self._trainer = trainer
        self._signal = signal.SIGTERM if trainer.received_sigterm else None  # arrived before this hook
        self._previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[signum] = signal.signal(signum, self._on_signal)
            except ValueError:  # not the main thread: keep Lightning's handling
                break

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._restore()

    def _stop_if_signalled(self, trainer, where: str) -> None:
        stop = trainer.strategy.reduce_boolean_decision(self._signal is not None, all=False)
        if not stop:
            return
        signum = self._signal or signal.SIGTERM  # another rank's signal
        path = self.output_dir / LAST
        trainer.save_checkpoint(path, weights_only=False)  # full state at a step boundary: resumes exactly
        command = resume_command(self.output_dir)
        log.warning("stopped by %s %s step %d; saved %s. Resume with:\n  %s",
                    signal.Signals(signum).name, where, trainer.global_step, path, command)
        raise Interrupted(signum, command)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._stop_if_signalled(trainer, "at")

    def on_train_end(self, trainer, pl_module) -> None:
        try:
            self._stop_if_signalled(trainer, "after the last training step,")
        finally:
            self._restore()


def progress_bar(cfg) -> list[pl.Callback]:
    """``[OverallProgressBar()]`` unless the run's ``trainer.enable_progress_bar`` is false (Lightning
    refuses a bar callback then)."""
    return [OverallProgressBar()] if cfg.trainer.get("enable_progress_bar", True) else []
