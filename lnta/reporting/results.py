"""The results table printed when a ``train`` or a multirun ends, and the names of multirun job folders.

Hydra calls :class:`ResultsTable` (``conf/hydra/default.yaml``, ``hydra.callbacks``) in the launching
process: after a single ``train`` it prints that run's row; after a multirun one row per job folder of
the sweep, read from each job's ``metrics.json``. Job folders are named by :func:`job_name`, from the
swept keys of the sweep's own record, ``<sweep dir>/multirun.yaml`` (written by Hydra's sweeper before any
job starts; read as data, with any launcher whose jobs see the sweep dir).
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

#: The sweep's record in its sweep dir (Hydra's BasicSweeper writes it before launching the jobs).
SWEEP_RECORD = "multirun.yaml"
COLUMNS = ("AUC micro", "AUC macro", "pixel AUC")
MAX_NAME = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-+@%]")  # not a path separator, nothing Hydra's override grammar rejects


def _number(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def results_table(rows: list[tuple[str, dict | None]]) -> str:
    """A plain-text table: one line per ``(run dir, metrics.json contents or None)``.

    Columns: ``auc_micro``, ``auc_macro``, ``pixel_auc`` (``-`` where absent) and the run dir; a run
    without metrics says so (it failed, or did not test).
    """
    lines = [(*COLUMNS, "run")]
    for run, metrics in rows:
        if metrics is None:
            lines.append(("no metrics.json", "", "", run))
        else:
            lines.append((*(_number(metrics.get(k)) for k in ("auc_micro", "auc_macro", "pixel_auc")), run))
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    return "\n".join("  ".join([*(c.rjust(w) for c, w in zip(line[:3], widths)), line[3]]).rstrip()
                     for line in lines)


def _read_metrics(run: Path) -> dict | None:
    try:
        return json.loads((run / "metrics.json").read_text())
    except (OSError, ValueError):
        return None


def swept_keys(task_overrides: list[str], sweeper_params: dict | None) -> list[str]:
    """The keys a multirun varies: command-line sweeps (``seed=0,1``, ``range(3)``...) and the sweeper's
    ``params`` (``conf/sweep/*``)."""
    keys = list((sweeper_params or {}).keys())
    for override in OverridesParser.create().parse_overrides(task_overrides):
        if override.is_sweep_override():
            keys.append(override.get_key_element().lstrip("+~"))
    return list(dict.fromkeys(keys))


def sweep_keys(sweep_dir) -> set[str] | None:
    """The keys the multirun in ``sweep_dir`` sweeps (:func:`swept_keys`), from its :data:`SWEEP_RECORD`;
    None where there is none (another sweeper) or it cannot be read. Nothing in it is resolved or called."""
    try:
        record = OmegaConf.load(Path(str(sweep_dir)) / SWEEP_RECORD)
        params = OmegaConf.select(record, "hydra.sweeper.params")
        params = OmegaConf.to_container(params, resolve=False) if params is not None else {}
        task = OmegaConf.to_container(OmegaConf.select(record, "hydra.overrides.task") or [], resolve=False)
        return set(swept_keys([str(t) for t in task], params))
    except Exception:  # noqa: BLE001 - an unreadable record: name by the fallback rule
        return None


def job_name(task_overrides, num, sweep_dir=None) -> str:
    """A multirun job's folder name: its values of the swept keys, ``key-value`` joined by ``+``
    (e.g. ``experiment-ped2_patch+seed-1``), else the job number. Only characters that Hydra accepts
    unquoted in an override are kept (others become ``_``), so ``ckpt_path=<job folder>`` works as typed.

    The swept keys come from the sweep's record in ``sweep_dir`` (:func:`sweep_keys`); without it every
    override whose value holds no path is used. A name longer than :data:`MAX_NAME` characters (file
    systems stop at 255) falls back to the job number.
    """
    overrides = [str(o) for o in task_overrides]
    keys = sweep_keys(sweep_dir) if sweep_dir is not None else None
    parts = []
    for override in overrides:
        key, _, value = override.partition("=")
        if (key.lstrip("+~") in keys) if keys is not None else ("/" not in value):
            parts.append(_UNSAFE.sub("_", f"{key.lstrip('+~')}-{value}"))
    name = "+".join(sorted(parts))
    return name if name and len(name) <= MAX_NAME else str(num)


def register_resolver() -> None:
    """``${lnta_job_name:${hydra.overrides.task},${hydra.job.num},${hydra.sweep.dir}}`` for ``hydra.sweep.subdir``."""
    if not OmegaConf.has_resolver("lnta_job_name"):
        OmegaConf.register_new_resolver("lnta_job_name", job_name)


class ResultsTable(Callback):
    """Prints :func:`results_table` after a ``train`` run and after every multirun."""

    def on_run_end(self, config: DictConfig, job_return=None, **kwargs) -> None:
        if config.get("task_name") != "train":
            return
        if job_return is not None and getattr(job_return.status, "name", "COMPLETED") != "COMPLETED":
            return
        run = Path(config.hydra.runtime.output_dir)
        metrics = _read_metrics(run)
        if metrics is not None:
            print("\n" + results_table([(str(run), metrics)]))

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep = Path(str(config.hydra.sweep.dir))
        runs = sorted({c.parent.parent for c in sweep.glob("**/.hydra/config.yaml")})
        if not runs:
            return
        print(f"\n{len(runs)} jobs in {sweep}:")
        print(results_table([(str(run.relative_to(sweep)), _read_metrics(run)) for run in runs]))
