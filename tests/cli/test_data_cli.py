"""The real CLIs on generated releases: train on each layout, prepare the cache, clear errors."""
import json

import numpy as np
import pytest

from tests.helpers import fake_releases as fr
from tests.conftest import run_cli
from tests.helpers.by_hand import frame_aucs

pytestmark = pytest.mark.slow


def _tiny(tmp_path, root, run="run"):
    return [f"data.root={root}", "data.image_size=32", "data.num_workers=0", "model.width=0.125",
            "trainer.max_epochs=1", "trainer.max_steps=2", "trainer.enable_progress_bar=false",
            f"hydra.run.dir={tmp_path / run}"]


def test_train_ped2_skip_on_the_ucsd_release(tmp_path):
    fr.ucsd_release(tmp_path / "ucsd", [40, 36], [40, 38])
    result = run_cli("lnta.train", "+experiment=ped2_skip", *_tiny(tmp_path, tmp_path / "ucsd"))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["label_source"] == "intervals" and metrics["labels_file"].endswith("UCSDped2.m")
    assert metrics["n_frames_scored"] == (40 - 15) + (38 - 15)
    out = result.stdout + result.stderr
    assert "decoded into memory" in out
    assert out.index("train: decoding 2 videos") < out.index("decoded into memory")  # the wait is said first


@pytest.mark.parametrize("experiment", ["ped2_memae", "ped2_memae_skip"])
def test_train_ped2_memae_on_the_ucsd_release(tmp_path, experiment):
    fr.ucsd_release(tmp_path / "ucsd", [40, 36], [40, 38])
    run_cli("lnta.train", f"+experiment={experiment}", "model.slots=50", *_tiny(tmp_path, tmp_path / "ucsd"))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n_frames_scored"] == (40 - 15) + (38 - 15)
    micro, macro = frame_aucs(tmp_path / "run" / "scores.csv")   # computed here from the scores written
    assert metrics["auc_micro"] == pytest.approx(micro, abs=1e-3) and metrics["auc_macro"] == pytest.approx(macro, abs=1e-3)
    config = (tmp_path / "run" / ".hydra" / "config.yaml").read_text()
    assert "_target_: lnta.models.MemAE" in config and (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


def test_prepare_then_train_avenue_from_the_cache(tmp_path):
    fr.avenue_release(tmp_path / "avenue", [40, 36], [40, 38])
    run_cli("lnta.prepare", "data=avenue", f"data.root={tmp_path / 'avenue'}", "data.image_size=32",
            f"hydra.run.dir={tmp_path / 'prep'}")
    assert (tmp_path / "avenue" / "lnta_cache" / "32x32" / "train.u8").is_file()
    result = run_cli("lnta.train", "+experiment=avenue_patch", "anomaly.intruder.source=synthetic",
                     "data.label_source=masks", *_tiny(tmp_path, tmp_path / "avenue"))
    assert (result.stdout + result.stderr).count("memory-mapped from the prepared cache") == 2
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["label_source"] == "masks" and metrics["dataset"] == "avenue"
    assert metrics["labels_from"] == "derived from pixel masks: a frame is anomalous where any mask pixel is set"


def test_misaligned_labels_stop_prepare_with_one_line(tmp_path):
    root = tmp_path / "sht"
    fr.shanghaitech_release(root, [40, 36], {"01_0014": 40, "02_0001": 30})
    np.save(root / "testing" / "test_frame_mask" / "02_0001.npy", np.zeros(29, np.uint8))
    result = run_cli("lnta.prepare", "data=shanghaitech", f"data.root={root}", "data.image_size=32",
                     f"hydra.run.dir={tmp_path / 'prep'}", check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {root / 'testing' / 'test_frame_mask'}: video 02_0001 has 30 frames but its labels have 29")
    assert not (root / "lnta_cache").exists() or not list((root / "lnta_cache").iterdir())  # checked before decoding
