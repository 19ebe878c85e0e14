"""Multirun job folder names and the results table."""
from __future__ import annotations

from lnta.reporting.results import job_name, results_table, swept_keys


def test_swept_keys_come_from_the_command_line_and_the_sweep_config():
    overrides = ["+experiment=ped2_patch", "seed=0,1", "data.root=/data/ped2", "anomaly.skips=[2,3]"]
    assert swept_keys(overrides, {"anomaly.p": "0.1,0.2"}) == ["anomaly.p", "seed"]


def _record(tmp_path, task, params=None):
    """A sweep dir with the record Hydra's sweeper writes before launching the jobs."""
    from omegaconf import OmegaConf

    OmegaConf.save(OmegaConf.create({"hydra": {"sweeper": {"params": params}, "overrides": {"task": task}}}),
                   tmp_path / "multirun.yaml")
    return str(tmp_path)


def test_job_name_uses_the_swept_values_only(tmp_path):
    sweep = _record(tmp_path, ["experiment=ped2_patch,ped2_skip", "seed=0,1", "data.root=/data/ped2",
                               "model.width=0.5"])
    overrides = ["experiment=ped2_patch", "seed=1", "data.root=/data/ped2", "model.width=0.5"]
    assert job_name(overrides, 3, sweep) == "experiment-ped2_patch+seed-1"
    assert job_name(["anomaly.skips=[2,3]", "seed=1"], 0, sweep) == "seed-1"  # anomaly.skips not swept here
    sweep = _record(tmp_path, ["seed=1"], {"anomaly.skips": "[2,3],[4,5]"})  # swept by a sweep config
    assert job_name(["anomaly.skips=[2,3]", "seed=1"], 0, sweep) == "anomaly.skips-_2_3_"
    sweep = _record(tmp_path, ["seed=1"])   # nothing swept
    assert job_name(overrides, 3, sweep) == "3"
    # no record (another sweeper): every override that is not a path, "/" never kept
    assert job_name(overrides, 3, str(tmp_path / "elsewhere")) == "experiment-ped2_patch+model.width-0.5+seed-1"
    assert job_name(overrides, 3) == "experiment-ped2_patch+model.width-0.5+seed-1"


def test_a_record_is_read_as_data(tmp_path):
    """An interpolation or a Python tag in the record is never resolved or run: the fallback rule names the job."""
    (tmp_path / "multirun.yaml").write_text("hydra:\n  overrides:\n    task: !!python/object/apply:os.system ['touch x']\n")
    assert job_name(["seed=1"], 0, str(tmp_path)) == "seed-1" and not (tmp_path / "x").exists()
    _record(tmp_path, ["${oc.env:HOME}=1,2"])
    assert job_name(["seed=1"], 0, str(tmp_path)) == "seed-1"


def test_results_table_columns():
    text = results_table([("runs/a", {"auc_micro": 0.91234, "auc_macro": 0.8, "pixel_auc": 0.7}),
                          ("runs/b", None), ("runs/c", {"auc_micro": 0.5, "auc_macro": float("nan")})])
    lines = text.splitlines()
    assert lines[0].split() == ["AUC", "micro", "AUC", "macro", "pixel", "AUC", "run"]
    assert lines[1].split() == ["0.9123", "0.8000", "0.7000", "runs/a"]
    assert lines[2].split() == ["no", "metrics.json", "runs/b"]
    assert lines[3].split() == ["0.5000", "-", "-", "runs/c"]


def test_job_name_never_exceeds_a_file_name():
    """Without the swept keys every plain override names the folder; past MAX_NAME it is the job number."""
    overrides = [f"data.setting_{i}=value_{i}" for i in range(20)]
    assert job_name(overrides, 7) == "7"
    assert job_name(["seed=1"], 7) == "seed-1"
