"""Issue 25, item 4: real label files beside part of a dataset, and the eval's label override, through the CLI."""
import json

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.unit.data.test_layouts import _partial_avenue

pytestmark = pytest.mark.slow


def test_prepare_slices_the_full_avenue_label_file_to_the_videos_present(tmp_path):
    root = tmp_path / "avenue"
    _partial_avenue(root, {"08": 36, "21": 76})
    result = run_cli("lnta.prepare", "data=avenue", f"data.root={root}", "data.image_size=32",
                     f"hydra.run.dir={tmp_path / 'prep'}")
    output = result.stdout + result.stderr
    assert "sliced to the 2 test videos present, identified by their names (08, 21)" in output
    assert output.count("2 test videos, the full avenue has 21") == 1  # each warning once (it was twice)
    assert "train 1/1: video 01, 20 frames" in output and "test 2/2: video 21, 76 frames" in output  # progress


def test_eval_takes_a_label_file_as_data_labels_without_plus(tmp_path, tiny):
    """``lnta.eval ckpt_path=... data.labels=FILE`` (no ``+``, no data group) re-tests the checkpoint's data
    with other labels; ``+data.labels`` used to lose the checkpoint's data config ("data.image_size=None")."""
    run_cli("lnta.train", *tiny)
    run = tmp_path / "run"
    flipped = tmp_path / "flipped.npy"
    np.save(flipped, 1 - np.load(tmp_path / "synthetic" / "frame_labels_synthetic.npy"))
    for key in ("data.labels", "+data.labels"):
        out = tmp_path / key
        run_cli("lnta.eval", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", f"{key}={flipped}",
                f"hydra.run.dir={out}", "trainer.enable_progress_bar=false")
        trained, evaluated = (json.loads((d / "metrics.json").read_text()) for d in (run, out))
        assert evaluated["labels_file"] == str(flipped) and evaluated["label_source"] == "npy"
        assert evaluated["auc_micro"] == pytest.approx(1 - trained["auc_micro"], abs=1e-6)


def test_avenue_labels_from_its_masks_alone_are_said_to_differ_from_the_published_ones(tmp_path):
    from tests.helpers import fake_releases as fr

    root = tmp_path / "avenue"
    fr.avenue_release(root, [20], [20, 19])
    (root / "avenue.mat").unlink()  # no interval labels: auto falls back to the pixel masks
    result = run_cli("lnta.prepare", "data=avenue", f"data.root={root}", "data.image_size=32",
                     f"hydra.run.dir={tmp_path / 'prep'}")
    output = result.stdout + result.stderr
    assert output.count("test labels are derived from the pixel masks") == 1
    assert "published Avenue numbers use the interval labels" in output
