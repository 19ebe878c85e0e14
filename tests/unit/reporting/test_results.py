"""Multirun job folder names and the results table."""
from __future__ import annotations

import os

from lnta.reporting.results import SWEPT_ENV, job_name, results_table, swept_keys


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


def test_job_name_never_exceeds_a_file_name(monkeypatch):
    """Without the swept keys every plain override names the folder; past MAX_NAME it is the job number."""
    monkeypatch.delenv("LNTA_SWEPT_KEYS", raising=False)
    overrides = [f"data.setting_{i}=value_{i}" for i in range(20)]
    assert job_name(overrides, 7) == "7"
    assert job_name(["seed=1"], 7) == "seed-1"


def test_multirun_start_without_sweeper_params(monkeypatch):
    """A command-line sweep leaves hydra.sweeper.params unset: the callback still records the swept keys."""
    from omegaconf import OmegaConf

    from lnta.reporting.results import SWEPT_ENV, ResultsTable

    before = os.environ.get(SWEPT_ENV)
    with monkeypatch.context() as patch:
        # set (not only deleted) through monkeypatch, so the value the callback writes is undone with it:
        # a leaked LNTA_SWEPT_KEYS would name the job folders of every later test and child process
        patch.setenv(SWEPT_ENV, "")
        config = OmegaConf.create({"hydra": {"sweeper": {"params": None}, "overrides": {"task": ["seed=0,1", "x=2"]}}})
        ResultsTable().on_multirun_start(config)
        assert os.environ[SWEPT_ENV].split(",") == ["seed"]
    assert os.environ.get(SWEPT_ENV) == before
