"""Epoch-selection protocols, which epoch's AUC a run reports, and reading the per-epoch table of a run
(:func:`lnta.reporting.test_outputs.write_epoch_table` writes it).

``last`` uses no test labels (the headline); ``oracle`` picks the best epoch on the test set,
as the paper's numbers were obtained, and is for comparison only.
"""
from __future__ import annotations

import csv
from pathlib import Path

from lnta.errors import DataError

PROTOCOLS = {
    "last": "last epoch (no test labels used)",
    "oracle": "best epoch on the test set (as the paper; comparison only)",
}


def select_epoch(rows: list[dict], protocol: str, key: str = "auc_micro") -> dict:
    """The row of ``rows`` (one per epoch, with ``epoch`` and ``key``) chosen by ``protocol``."""
    if not rows:
        raise ValueError("no epochs to select from")
    if protocol == "last":
        return max(rows, key=lambda r: r["epoch"])
    if protocol == "oracle":  # ties: the earliest epoch
        return max(rows, key=lambda r: (r[key], -r["epoch"]))
    raise ValueError(f"unknown selection protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")

#: The mechanism measure's columns in ``epochs.csv`` (PSNR of the reconstruction per region, dB; lnta.metrics.mechanism).
MECHANISM_COLUMNS = ["anomaly_psnr", "foreground_psnr", "background_psnr", "gap_db"]
#: The columns of ``epochs.csv`` (AUC per epoch of one run).
COLUMNS = ["epoch", "auc_micro", "auc_macro", "pixel_auc", *MECHANISM_COLUMNS, "n_frames_scored", "ckpt_path"]


def read_epoch_table(run_dir: Path) -> list[dict] | None:
    """The rows of ``run_dir/epochs.csv`` (numbers parsed), or None when the run has none."""
    path = run_dir / "epochs.csv"
    if not path.is_file():
        return None
    with open(path) as f:
        rows = list(csv.DictReader(f))
    parsed = []
    for line, r in enumerate(rows, start=2):
        try:
            parsed.append({"epoch": int(r["epoch"]), **{k: float(r[k]) if r.get(k) else float("nan")
                                                         for k in ("auc_micro", "auc_macro", "pixel_auc")}})
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{path}: line {line} is not an epoch row (expected an integer epoch and numeric "
                            "auc_micro, auc_macro, pixel_auc); write it again with python -m lnta.eval "
                            "ckpt_path=RUN") from None
    return parsed
