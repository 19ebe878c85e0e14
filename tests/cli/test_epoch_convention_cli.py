"""One epoch convention in every file: the index of the last trained epoch, from 0 (README)."""
from __future__ import annotations

import csv
import json

import pytest
import torch

from lnta.trainer.checkpoint import trained_position
from tests.conftest import run_cli, tiny_overrides

pytestmark = pytest.mark.slow


def test_metrics_json_csv_and_checkpoint_names_agree_on_the_epoch(tmp_path):
    run = tmp_path / "run"
    run_cli("lnta.train", *[o for o in tiny_overrides(tmp_path, run) if not o.startswith("trainer.max")],
            "trainer.max_epochs=2", "trainer.max_steps=-1", "trainer.limit_train_batches=1", "trainer.log_every_n_steps=1")
    epoch = json.loads((run / "metrics.json").read_text())["epoch"]
    assert epoch == 1  # two epochs: 0 and 1
    assert sorted(p.name for p in (run / "checkpoints").glob("epoch*.ckpt")) == ["epoch000.ckpt", "epoch001.ckpt"]
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert trained_position(last)[0] == epoch  # what lnta.eval writes into its metrics.json
    with open(run / "csv" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    [test] = [r for r in rows if r.get("test/auc_micro")]
    assert float(test["epoch"]) == epoch
    assert {int(float(r["epoch"])) for r in rows if r.get("train/loss")} == {0, 1}
