"""The per-epoch table of a run: protocols, the mechanism columns and plot."""
from __future__ import annotations

import csv
import json

from lnta.metrics.selection import read_epoch_table, select_epoch
from lnta.reporting.test_outputs import write_epoch_table


def _row(epoch, auc, anomaly=None):
    row = {"epoch": epoch, "auc_micro": auc, "auc_macro": auc, "n_frames_scored": 10, "ckpt_path": f"e{epoch}"}
    if anomaly is not None:
        row["mechanism"] = {"anomaly_psnr": anomaly, "foreground_psnr": 20.0, "background_psnr": 30.0,
                            "gap_db": 20.0 - anomaly, "pixels": {"anomaly": 1}}
    return row


def test_epoch_table_carries_the_mechanism_columns_and_plot(tmp_path):
    write_epoch_table(tmp_path, [_row(1, 0.7, 12.0), _row(0, 0.8, 15.0)])
    with open(tmp_path / "epochs.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert [(r["anomaly_psnr"], r["gap_db"]) for r in rows] == [("15.0", "5.0"), ("12.0", "8.0")]
    assert (tmp_path / "mechanism.png").stat().st_size > 0 and (tmp_path / "epochs.png").stat().st_size > 0
    selection = json.loads((tmp_path / "epoch_metrics.json").read_text())["selection"]
    assert selection["last"]["epoch"] == 1 and selection["oracle"]["epoch"] == 0
    assert [r["epoch"] for r in read_epoch_table(tmp_path)] == [0, 1]


def test_without_the_mechanism_the_columns_stay_empty_and_no_plot(tmp_path):
    write_epoch_table(tmp_path, [_row(0, 0.8)])
    with open(tmp_path / "epochs.csv") as f:
        row = next(csv.DictReader(f))
    assert row["anomaly_psnr"] == "" and row["auc_micro"] == "0.8"
    assert not (tmp_path / "mechanism.png").exists()


def test_oracle_ties_pick_the_earliest_epoch():
    assert select_epoch([_row(2, 0.9), _row(1, 0.9), _row(0, 0.5)], "oracle")["epoch"] == 1
