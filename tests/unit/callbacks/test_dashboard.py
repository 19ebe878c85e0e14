"""W&B dashboards: run identity from the setting; an offline run holds the test media and tables."""
from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from lnta.callbacks.dashboard import flat_hparams
from lnta.loggers.wandb import run_identity
from tests.conftest import run_cli


def test_run_identity_names_groups_and_tags_the_setting():
    facts = {"experiment": "ped2_skip", "dataset": "ped2", "anomaly": "skip", "p": 0.2, "s": [2, 3, 4, 5],
             "alpha": None, "beta": None, "seed": 1}
    name, group, tags = run_identity(facts)
    assert (name, group) == ("ped2_skip_p0.2_s2-3-4-5_seed1", "ped2_skip_p0.2_s2-3-4-5")
    assert tags == ["ped2", "skip", "p=0.2", "s=2-3-4-5"]
    assert run_identity({"dataset": "ped2", "anomaly": "none", "seed": 0})[:2] == ("ped2_none_seed0", "ped2_none")


def test_flat_hparams():
    assert flat_hparams({"anomaly": {"p": 0.2, "skips": [2, 3]}, "seed": 0}) == {
        "anomaly.p": 0.2, "anomaly.skips": "[2, 3]", "seed": 0}


@pytest.mark.slow
def test_offline_wandb_run_holds_media_and_tables(tmp_path, tiny):
    pytest.importorskip("wandb", reason="wandb not installed (pip install 'lnta[wandb]')")
    env = {"WANDB_MODE": "offline", "WANDB_API_KEY": "", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true",
           "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"), "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache")}
    result = run_cli("lnta.train", "+experiment=synthetic_patch", *tiny, "logger=wandb", env=env)
    run = tmp_path / "run"
    assert "wandb sync" in result.stdout + result.stderr
    assert (run / "heatmaps.png").stat().st_size > 0
    [offline] = list((run / "wandb").glob("offline-run-*"))
    images = list((offline / "files" / "media" / "images").rglob("*.png"))
    names = " ".join(p.name for p in images)
    for key in ("heatmaps", "error_maps", "score_curves", "roc"):
        assert key in names, (key, names)
    [table] = list((offline / "files" / "media" / "table").rglob("frame_scores*.table.json"))
    data = json.loads(table.read_text())
    assert data["columns"] == ["video", "frame", "psnr", "score", "label"] and len(data["data"]) == 2 * 25
    [record] = list(offline.glob("run-*.wandb"))  # the run's records: config, name, group, tags
    raw = record.read_bytes()
    beta = OmegaConf.load(run / ".hydra" / "config.yaml").anomaly.beta  # the experiment's, named in the run name
    assert b"anomaly.p" in raw and b"anomaly.beta" in raw and f"synthetic_patch_p0.2_alpha0.5_beta{beta}".encode() in raw
