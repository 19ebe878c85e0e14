"""Multirun job folder names and the results table."""
from __future__ import annotations

from lnta.report.results import SWEPT_ENV, job_name, results_table, swept_keys


def test_swept_keys_come_from_the_command_line_and_the_sweep_config():
    overrides = ["+experiment=ped2_patch", "seed=0,1", "data.root=/data/ped2", "anomaly.skips=[2,3]"]
    assert swept_keys(overrides, {"anomaly.p": "0.1,0.2"}) == ["anomaly.p", "seed"]


def test_job_name_uses_the_swept_values_only(monkeypatch):
    monkeypatch.setenv(SWEPT_ENV, "seed,experiment")
    overrides = ["experiment=ped2_patch", "seed=1", "data.root=/data/ped2", "model.width=0.5"]
    assert job_name(overrides, 3) == "experiment-ped2_patch+seed-1"
    assert job_name(["anomaly.skips=[2,3]", "seed=1"], 0) == "seed-1"  # anomaly.skips not swept here
    monkeypatch.setenv(SWEPT_ENV, "anomaly.skips")
    assert job_name(["anomaly.skips=[2,3]", "seed=1"], 0) == "anomaly.skips-_2_3_"
    monkeypatch.setenv(SWEPT_ENV, "")
    assert job_name(overrides, 3) == "3"
    monkeypatch.delenv(SWEPT_ENV)  # unknown sweep: every override that is not a path, "/" never kept
    assert job_name(overrides, 3) == "experiment-ped2_patch+model.width-0.5+seed-1"


def test_results_table_columns():
    text = results_table([("runs/a", {"auc_micro": 0.91234, "auc_macro": 0.8, "pixel_auc": 0.7}),
                          ("runs/b", None), ("runs/c", {"auc_micro": 0.5, "auc_macro": float("nan")})])
    lines = text.splitlines()
    assert lines[0].split() == ["AUC", "micro", "AUC", "macro", "pixel", "AUC", "run"]
    assert lines[1].split() == ["0.9123", "0.8000", "0.7000", "runs/a"]
    assert lines[2].split() == ["no", "metrics.json", "runs/b"]
    assert lines[3].split() == ["0.5000", "-", "-", "runs/c"]
