"""A real 2-job multirun on tiny data, every-epoch evaluation of one job, then lnta.report over it."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from lnta.report import main as report_main
from tests.conftest import run_cli, tiny_overrides

pytestmark = pytest.mark.slow


def _read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_multirun_eval_and_report(tmp_path):
    sweep = tmp_path / "sweep"
    tiny = [o for o in tiny_overrides(tmp_path) if not o.startswith(("hydra.run", "trainer.max"))]
    run_cli("lnta.train", "+experiment=synthetic_patch", "+sweep=seeds", "seed=0,1",
            f"hydra.sweep.dir={sweep}", *tiny, "trainer.max_epochs=2", "trainer.limit_train_batches=1",
            "anomaly.beta=1")
    runs = [sweep / "0", sweep / "1"]
    metrics = [json.loads((run / "metrics.json").read_text()) for run in runs]
    assert [m["epoch"] for m in metrics] == [1, 1]

    # every epoch of job 0: epochs.csv, its last epoch reproduces the run's own test
    run_cli("lnta.eval", f"ckpt_path={runs[0] / 'checkpoints'}", f"hydra.run.dir={tmp_path / 'eval'}",
            "trainer.enable_progress_bar=false")
    epochs = _read_csv(runs[0] / "epochs.csv")
    assert [int(r["epoch"]) for r in epochs] == [0, 1]
    assert float(epochs[-1]["auc_micro"]) == pytest.approx(metrics[0]["auc_micro"], abs=1e-9)
    selection = json.loads((runs[0] / "epoch_metrics.json").read_text())["selection"]
    aucs = [float(r["auc_micro"]) for r in epochs]
    assert selection["last"]["epoch"] == 1 and selection["oracle"]["auc_micro"] == max(aucs)

    out = tmp_path / "report"
    report_main([str(sweep), str(tmp_path / "eval"), "--out", str(out)])
    runs_csv = {r["seed"]: r for r in _read_csv(out / "runs.csv")}
    assert set(runs_csv) == {"0", "1"} and runs_csv["0"]["method"] == "patch" and runs_csv["0"]["beta"] == "1"
    table = {r["protocol"]: r for r in _read_csv(out / "table.csv")}
    last = np.array([m["auc_micro"] for m in metrics])
    assert float(table["last"]["mean"]) == pytest.approx(last.mean(), abs=1e-12)
    assert float(table["last"]["std"]) == pytest.approx(last.std(ddof=1), abs=1e-12)
    assert int(table["last"]["n"]) == 2
    assert float(table["oracle"]["mean"]) == pytest.approx(max(aucs), abs=1e-12) and int(table["oracle"]["n"]) == 1
    md = (out / "report.md").read_text()
    assert "Selection `last`" in md and "Selection `oracle`" in md and f"{100 * last.mean():.2f}" in md
    assert (out / "auc_per_epoch_synthetic.png").stat().st_size > 0
