"""``logger=wandb`` as a new user meets it: no API key anywhere, so the run goes offline by itself."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_cli


def _clean_env(tmp_path, monkeypatch) -> dict:
    """No W&B variable, an empty HOME: no key in the environment, ``~/.netrc`` or W&B's settings."""
    for key in [k for k in os.environ if k.startswith("WANDB_")] + ["NETRC"]:
        monkeypatch.delenv(key, raising=False)  # run_cli starts from this process's environment
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home)}


def test_key_detection_reads_env_netrc_and_settings(tmp_path, monkeypatch):
    from lnta.loggers.wandb import wandb_has_key

    _clean_env(tmp_path, monkeypatch)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert not wandb_has_key()
    (tmp_path / ".netrc").write_text("machine example.org login user password secret\n")
    assert not wandb_has_key()  # a key for another host is not W&B's
    (tmp_path / ".netrc").write_text("machine api.wandb.ai login user password " + "a" * 40 + "\n")
    assert wandb_has_key()
    (tmp_path / ".netrc").unlink()
    settings = tmp_path / ".config" / "wandb" / "settings"
    settings.parent.mkdir(parents=True)
    settings.write_text("[default]\napi_key = " + "b" * 40 + "\n")
    assert wandb_has_key()
    settings.unlink()
    monkeypatch.setenv("WANDB_API_KEY", "c" * 40)
    assert wandb_has_key()


@pytest.mark.slow
def test_wandb_without_a_key_runs_offline_and_says_so_once(tmp_path, tiny, monkeypatch):
    pytest.importorskip("wandb", reason="wandb not installed (pip install 'lnta[wandb]')")
    tiny = [o for o in tiny if not o.startswith("data.test_videos")] + ["data.test_videos=3"]
    result = run_cli("lnta.train", *tiny, "logger=wandb", env=_clean_env(tmp_path, monkeypatch))
    out = result.stdout + result.stderr
    assert result.returncode == 0
    assert out.count("wandb sync") == 1, out[-3000:]
    assert "W&B offline (no API key configured)" in out
    assert "UsageError" not in out and "anonymous setting" not in out
    [offline] = (tmp_path / "run" / "wandb").glob("offline-run-*")
    assert list(offline.glob("run-*.wandb"))
    # the error maps: one heatmap per test video, in colour with a colour bar, not uint8 0/1 (black)
    maps = sorted((offline / "files" / "media" / "images").rglob("error_maps_*.png"))
    assert len(maps) == 3, maps
    for path in maps:
        image = np.asarray(Image.open(path).convert("RGB")).astype(int)
        assert image.shape[0] > 100 and image.mean() > 100  # a white figure, not a black 32x32 map
        colourful = np.abs(image[..., 0] - image[..., 2]) > 100  # jet's reds and blues
        assert colourful.mean() > 0.05, path
