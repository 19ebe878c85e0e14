"""W&B in a multirun: each job of ``-m`` (one process, jobs in sequence) gets its own W&B run."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO, cli_env, tiny_overrides

pytestmark = pytest.mark.slow


def test_each_multirun_job_logs_into_its_own_wandb_run(tmp_path):
    pytest.importorskip("wandb", reason="wandb not installed (pip install 'lnta[wandb]')")
    # a clean W&B environment: no WANDB_* variables, no API key, a fresh HOME; offline by config
    env = {k: v for k, v in cli_env().items() if not k.startswith("WANDB_")}
    env.update(HOME=str(tmp_path / "home"))
    sweep = tmp_path / "sweep"
    tiny = [o for o in tiny_overrides(tmp_path) if not o.startswith("hydra.run")]
    result = subprocess.run([sys.executable, "-m", "lnta.train", "-m", "seed=0,1", f"hydra.sweep.dir={sweep}",
                             *tiny, "logger=wandb", "logger.wandb.mode=offline", "callbacks.dashboard.heatmaps=0",
                             "test_after_fit=false"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-5000:]
    runs = []
    for job in ("seed-0", "seed-1"):  # job folders are named by the swept values
        [run] = list((sweep / job / "wandb").glob("offline-run-*"))  # each job its own run folder
        runs.append(run)
        assert list(run.glob("run-*.wandb"))
    ids = [(sweep / job / "wandb_run_id").read_text().strip() for job in ("seed-0", "seed-1")]
    assert ids[0] != ids[1]
    assert [run.name.rsplit("-", 1)[1] for run in runs] == ids
    assert "will reuse this run" not in result.stdout + result.stderr
