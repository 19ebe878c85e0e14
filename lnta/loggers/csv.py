"""``csv/metrics.csv`` that survives resumes: Lightning's CSV logger deletes the file whenever its
folder is not empty (every resume, every re-run in a run dir); this one keeps the rows and appends."""
from __future__ import annotations

import csv
import io
import math
import os
from typing import Any

from pytorch_lightning.loggers import CSVLogger as _LightningCSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment

from lnta.io import write_text


def _step(value) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _filled(row: dict) -> frozenset:
    return frozenset(k for k, v in row.items() if k != "step" and v not in (None, ""))


class AppendingExperimentWriter(ExperimentWriter):
    """Lightning's CSV writer, but an existing ``metrics.csv`` is continued, never deleted.

    Rows a resumed run logs again (the steps between the last checkpoint and a kill, or the test
    of a finished run re-run) replace the old row with the same step and the same metrics, so each
    step appears once. A metric logged as NaN (no value at that step, e.g. ``train/loss_pseudo`` of
    a batch without pseudo anomalies) is written as an empty cell.
    """

    def __init__(self, log_dir: str) -> None:
        super().__init__(log_dir)
        self._old_max_step = -1
        if self._fs.isfile(self.metrics_file_path):
            header, rows = self._read()
            self.metrics_keys = sorted(set(header) - {""})
            steps = [s for s in (_step(r.get("step")) for r in rows) if s is not None]
            self._old_max_step = max(steps, default=-1)

    def _check_log_dir_exists(self) -> None:  # Lightning deletes metrics.csv here
        pass

    def _read(self) -> tuple[list[str], list[dict]]:
        with self._fs.open(self.metrics_file_path, "r", newline="") as file:
            reader = csv.DictReader(file)
            rows = list(reader)
            return list(reader.fieldnames or []), rows

    def log_metrics(self, metrics_dict: dict[str, Any], step: int | None = None) -> None:
        def undefined(value) -> bool:
            value = value.item() if hasattr(value, "item") else value
            return isinstance(value, float) and math.isnan(value)

        super().log_metrics({k: v for k, v in metrics_dict.items() if not undefined(v)}, step)

    def save(self) -> None:
        if not self.metrics:
            return
        new_keys = self._record_new_keys()
        exists = self._fs.isfile(self.metrics_file_path)
        overlap = exists and any((_step(r.get("step")) or 0) <= self._old_max_step for r in self.metrics)
        if exists and (overlap or new_keys):
            _, rows = self._read()
            if overlap:
                again = {(_step(r.get("step")), _filled(r)) for r in self.metrics}
                rows = [r for r in rows if (_step(r.get("step")), _filled(r)) not in again]
            self._write_all(rows + self.metrics)
        else:
            with self._fs.open(self.metrics_file_path, mode="a" if exists else "w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
                if not exists:
                    writer.writeheader()
                writer.writerows(self.metrics)
        self.metrics = []

    def _write_all(self, rows: list[dict]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.metrics_keys, extrasaction="ignore", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        if "://" in self.metrics_file_path:  # remote storage: no atomic rename
            with self._fs.open(self.metrics_file_path, "w", newline="") as file:
                file.write(buffer.getvalue())
        else:
            write_text(os.fspath(self.metrics_file_path), buffer.getvalue())


class CSVLogger(_LightningCSVLogger):
    """Lightning's :class:`~pytorch_lightning.loggers.CSVLogger` with :class:`AppendingExperimentWriter`:
    resuming or re-running in a run dir keeps the earlier rows of ``csv/metrics.csv``."""

    @property
    @rank_zero_experiment
    def experiment(self) -> AppendingExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = AppendingExperimentWriter(log_dir=self.log_dir)
        return self._experiment
