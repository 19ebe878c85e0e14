"""lnta.report over malformed or hostile run folders (issue 23, items 3 and 11): one line naming the
file and the key, nothing in a run file resolved or constructed."""
from __future__ import annotations

import csv
import json

import pytest

from lnta.report import main as report_main

CONFIG = """task_name: train
seed: 0
data:
  name: ped2
anomaly:
  name: none
"""


def _run(folder, config=CONFIG, metrics='{"auc_micro": 0.8}', hydra=None):
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(config)
    if hydra is not None:
        (folder / ".hydra" / "hydra.yaml").write_text(hydra)
    (folder / "metrics.json").write_text(metrics)
    return folder


def _one_error(tmp_path, capsys, run) -> str:
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as exit_info:
        report_main([str(run), "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert not out.exists()  # nothing written
    return err[0]


def test_a_python_tag_in_the_config_is_one_line_and_never_constructed(tmp_path, capsys):
    marker = tmp_path / "ran"
    config = CONFIG + f"evil: !!python/object/apply:os.system ['touch {marker}']\n"
    run = _run(tmp_path / "run", config=config)
    line = _one_error(tmp_path, capsys, run)
    assert line.startswith(f"error: {run / '.hydra' / 'config.yaml'}: not a readable run config (")
    assert "python/object/apply" in line and not marker.exists()


def test_a_resolver_in_the_config_is_refused_not_resolved(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LNTA_TEST_SECRET", "s3cret")
    run = _run(tmp_path / "run", config=CONFIG.replace("name: ped2", "name: ${oc.env:LNTA_TEST_SECRET}"))
    line = _one_error(tmp_path, capsys, run)
    assert line == (f"error: {run / '.hydra' / 'config.yaml'}: data.name='${{oc.env:LNTA_TEST_SECRET}}' is refused: "
                    "the report reads run files as data and resolves no interpolation (only a reference to "
                    "another key, ${a.b})")
    assert "s3cret" not in line


def test_a_resolver_in_hydra_yaml_is_refused(tmp_path, capsys):
    hydra = "hydra:\n  runtime:\n    choices:\n      experiment: ${oc.env:HOME}\n"
    run = _run(tmp_path / "run", hydra=hydra)
    line = _one_error(tmp_path, capsys, run)
    assert f"{run / '.hydra' / 'hydra.yaml'}: hydra.runtime.choices.experiment='${{oc.env:HOME}}' is refused" in line


def test_a_reference_to_another_key_is_followed(tmp_path):
    """lnta's own configs write references (conf/anomaly/patch_skip.yaml: skips: ${anomaly.types.skip.skips})."""
    config = CONFIG.replace("anomaly:\n  name: none\n", "anomaly:\n  types:\n    skip:\n      _target_: "
                            "lnta.anomaly.SkipFrame\n      p: 0.2\n      skips: [2, 3]\n  skips: ${anomaly.types.skip.skips}\n")
    _run(tmp_path / "run", config=config)
    out = tmp_path / "report"
    report_main([str(tmp_path / "run"), "--out", str(out)])
    with open(out / "runs.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["method"], row["s"], row["dataset"]) == ("skip", "{2,3}", "ped2")


@pytest.mark.parametrize("metrics, expected", [
    ('{"auc_micro": "abc"}', 'auc_micro="abc": expected a number or null'),
    ('{"auc_micro": 0.8, "pixel_auc": [1]}', "pixel_auc=[1]: expected a number or null"),
    ('{"auc_micro": true}', "auc_micro=true: expected a number or null"),
    ('{"auc_macro": 0.8}', "no auc_micro; not the metrics.json of an lnta run"),
    ('[0.8]', "expected a JSON object of metrics"),
    ('{"auc_micro": 0.8', "not readable as JSON (JSONDecodeError)"),
])
def test_malformed_metrics_are_one_line(tmp_path, capsys, metrics, expected):
    run = _run(tmp_path / "run", metrics=metrics)
    assert _one_error(tmp_path, capsys, run) == f"error: {run / 'metrics.json'}: {expected}"


def test_a_malformed_epochs_table_is_one_line(tmp_path, capsys):
    run = _run(tmp_path / "run")
    (run / "epochs.csv").write_text("epoch,auc_micro,auc_macro,pixel_auc\n0,0.8,0.8,\n1,abc,0.8,\n")
    line = _one_error(tmp_path, capsys, run)
    assert line.startswith(f"error: {run / 'epochs.csv'}: line 3 is not an epoch row")


def test_well_formed_files_still_report(tmp_path):
    _run(tmp_path / "run", metrics=json.dumps({"auc_micro": 0.75, "pixel_auc": None}))
    out = tmp_path / "report"
    report_main([str(tmp_path / "run"), "--out", str(out)])
    assert "| baseline | 75.00 (n=1) |" in (out / "report.md").read_text()
