"""Labels ride in the test batch; the frame scorer reads only test-step outputs; writing is separate."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lnta.data import datasets
from lnta.data.io.store import FrameStore
from lnta.errors import DataError
from lnta.metrics.frame_scorer import FrameScorer, run_metrics
from lnta.reporting.test_outputs import write_test_outputs
from lnta.metrics.protocol import frame_level_metrics, minmax_anomaly_scores


class _Module:
    """What the scorer may touch: world size (via ``trainer``); it logs nothing (the command does, with the epoch)."""

    trainer = SimpleNamespace(world_size=1)


def _store():
    lengths = [20, 18]
    return FrameStore(["01", "02"], lengths, np.zeros((sum(lengths), 4, 4), np.uint8))


def test_test_clips_carry_the_scored_frame_label():
    labels = [np.arange(20) % 3 == 0, np.arange(18) >= 12]
    clips = datasets.TestClips(_store(), clip_len=16, center=8, labels=[l.astype(np.uint8) for l in labels])
    items = [clips[i] for i in range(len(clips))]
    assert [it["label"] for it in items] == [int(labels[it["video"]][it["frame"]]) for it in items]
    assert "label" not in datasets.TestClips(_store(), 16, 8)[0]


def test_scorer_accumulates_outputs_without_the_datamodule(tmp_path):
    store = _store()
    labels = [(np.arange(20) % 3 == 0).astype(np.uint8), (np.arange(18) >= 12).astype(np.uint8)]
    loader = DataLoader(datasets.TestClips(store, 16, 8, labels), batch_size=4)
    rng = np.random.default_rng(0)
    scorer, module = FrameScorer(), _Module()
    scorer.on_test_epoch_start(None, module)
    for i, batch in enumerate(reversed(list(loader))):  # any order: results come back sorted
        outputs = {"psnr": torch.from_numpy(rng.random(len(batch["video"])) * 10 + 20), "video": batch["video"],
                   "frame": batch["frame"], "label": batch["label"]}
        scorer.on_test_batch_end(None, module, outputs, batch, i)
    scorer.on_test_epoch_end(None, module)
    r = scorer.results
    assert len(r["psnr"]) == 5 + 3 and list(r["video"]) == [0] * 5 + [1] * 3
    assert list(r["frame"]) == [8, 9, 10, 11, 12, 8, 9, 10]
    assert list(r["label"]) == [int(labels[v][f]) for v, f in zip(r["video"], r["frame"])]
    np.testing.assert_array_equal(r["score"], minmax_anomaly_scores(r["psnr"], r["video"]))
    assert scorer.metrics["auc_micro"] == frame_level_metrics(r["score"], r["label"], r["video"])["auc_micro"]

    metrics = run_metrics(r, expected_frames=8, facts={"dataset": "toy", "epoch": 3}, extra={"pixel_auc": 0.5})
    assert metrics["n_frames_scored"] == 8 and metrics["dataset"] == "toy" and metrics["pixel_auc"] == 0.5
    with pytest.raises(DataError, match="scored 8 frames but the protocol expects 9"):
        run_metrics(r, expected_frames=9)
    write_test_outputs(tmp_path, metrics, r, store.names)
    assert json.loads((tmp_path / "metrics.json").read_text())["epoch"] == 3
    assert (tmp_path / "scores.csv").read_text().splitlines()[1].startswith("01,8,")


def test_scorer_refuses_batches_without_labels():
    outputs = {"psnr": torch.ones(2), "video": torch.zeros(2), "frame": torch.arange(2)}
    with pytest.raises(DataError, match="label"):
        FrameScorer().on_test_batch_end(None, _Module(), outputs, {}, 0)
