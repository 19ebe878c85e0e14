"""Quiet logs: a train and an every-epoch eval print one Lightning banner each, no adverts, no warnings of
ours; the train ends with its results table."""
from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

NOISE = ("Tip", "DeprecationWarning", "FutureWarning", "is deprecated", "Mean of empty slice",
         "smaller than the logging interval")  # 2 batches an epoch, log_every_n_steps 10


@pytest.mark.slow
def test_train_and_every_epoch_eval_are_quiet(tmp_path, tiny):
    run = tmp_path / "run"
    train = run_cli("lnta.train", *tiny, "trainer.max_epochs=2", "trainer.max_steps=-1",
                    "trainer.limit_train_batches=2")
    evaluate = run_cli("lnta.eval", f"ckpt_path={run}", f"hydra.run.dir={tmp_path / 'eval'}")
    assert (run / "epochs.csv").is_file()  # two checkpoints were tested
    metrics = json.loads((run / "metrics.json").read_text())
    header, row = train.stdout.rstrip().splitlines()[-2:]  # the results table ends the train
    assert header.split() == ["AUC", "micro", "AUC", "macro", "pixel", "AUC", "run"]
    # the synthetic data has pixel masks (testing/pixel_gt_masks.npz): the pixel AUC is reported
    assert row.split() == [f"{metrics[k]:.4f}" for k in ("auc_micro", "auc_macro", "pixel_auc")] + [str(run)]
    assert "AUC micro  AUC macro" not in evaluate.stdout
    log = train.stdout + train.stderr  # the pixel metrics' seconds are announced before they pass
    assert log.index("pixel-level metrics: the error maps of") < log.index("pixel-level AUC"), log[-3000:]
    for result in (train, evaluate):
        log = result.stdout + result.stderr
        for word in NOISE:
            assert word not in log, (word, log[-3000:])
        # the banner "GPU available: ..., used: ..." once; Lightning's "GPU available but not used" warning,
        # printed where a GPU is present and unused, is not a banner (and not ours)
        assert log.count("GPU available:") == 1, log[-3000:]
