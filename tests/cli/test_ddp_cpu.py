"""Lightning DDP simulated on CPU with 2 processes: the metric sees every scored frame exactly once."""
from __future__ import annotations

import csv
import json
import re

import pytest

from tests.conftest import run_cli, tiny_overrides

pytestmark = pytest.mark.slow


def _top_frames(scores_csv) -> list[str]:
    """The highest-scoring frame of each video (ties: the earliest), as the heatmaps titles name them."""
    best = {}
    with open(scores_csv) as f:
        for row in csv.DictReader(f):
            key = (-float(row["score"]), int(row["frame"]))
            if row["video"] not in best or key < best[row["video"]]:
                best[row["video"]] = key
    return [f"video {v} frame {best[v][1]}" for v in sorted(best)]


def test_ddp_test_auc_equals_single_process_auc(tmp_path):
    # 3 test videos of 25 clips: 75 clips do not split evenly, so the sampler pads one rank
    tiny = [o.replace("data.test_videos=2", "data.test_videos=3") for o in tiny_overrides(tmp_path)]
    run_cli("lnta.train", *tiny, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2")
    ddp = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert ddp["n_frames_scored"] == 3 * (40 - 15)
    # the heatmap picks of all ranks are gathered: each video's top-scoring frame, as in one process
    run = tmp_path / "run"
    assert (run / "heatmaps.png").stat().st_size > 0
    [line] = [m for m in (run / "train.log").read_text().splitlines() if "heatmaps of" in m]
    assert re.findall(r"video \S+ frame \d+", line) == _top_frames(run / "scores.csv")
    run_cli("lnta.eval", f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}",
            f"hydra.run.dir={tmp_path / 'eval'}", "trainer.enable_progress_bar=false")
    single = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert single["n_frames_scored"] == ddp["n_frames_scored"]
    assert ddp["auc_micro"] == pytest.approx(single["auc_micro"], abs=1e-6)
    assert ddp["auc_per_video"] == pytest.approx(single["auc_per_video"], abs=1e-6)
