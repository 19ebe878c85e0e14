"""Pseudo anomalies through the real CLIs: every technique, intruder kind and objective, a custom type, pictures."""
import csv
import textwrap

import numpy as np
import pytest
from PIL import Image

from tests.conftest import one_error, run_cli
from tests.unit.anomaly.test_intruders import _write_cifar100, _write_frames, _write_images

pytestmark = pytest.mark.slow

CUSTOM_TYPE = '''
from lnta.anomaly import PseudoAnomaly


class UpsideDown(PseudoAnomaly):
    """The clip upside down: the AE learns to reconstruct only upright scenes."""

    name = "upside_down"

    def forward(self, clips, batch, index):
        normal = clips[index]
        return normal.flip(3), normal
'''

CUSTOM_CONFIG = """
_target_: my_anomalies.UpsideDown
p: 0.2
"""


def _user_extension(tmp_path):
    """A user's new type: one class in their own module, one config file in their config dir."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "my_anomalies.py").write_text(CUSTOM_TYPE)
    (tmp_path / "conf" / "anomaly").mkdir(parents=True)
    (tmp_path / "conf" / "anomaly" / "upside_down.yaml").write_text(CUSTOM_CONFIG)
    return {"PYTHONPATH": str(tmp_path / "code")}, f"hydra.searchpath=[file://{tmp_path / 'conf'}]"


def _metric_sums(path):
    sums = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            for key, value in row.items():
                if value:
                    sums.setdefault(key, []).append(float(value))
    return sums


def test_every_technique_and_intruder_kind_trains(tmp_path, tiny):
    cifar, _ = _write_cifar100(tmp_path / "cifar")
    _write_images(tmp_path / "folder" / "n01", 3)
    _write_frames(tmp_path / "clips", [20, 18], size=32)
    env, searchpath = _user_extension(tmp_path)
    (tmp_path / "conf" / "anomaly" / "all_kinds.yaml").write_text(textwrap.dedent(f"""
        defaults:
          - patch@types.smoothmix_s
          - patch@types.smoothmix_c
          - patch@types.cutmix
          - patch@types.mixup_patch
          - skip@types.skip
          - upside_down@types.upside_down
          - _self_
        skips: [2, 3]
        types:
          smoothmix_s: {{name: smoothmix_s, p: 0.16, beta: 3, intruder: {{source: cifar, path: {cifar}, split: test}}}}
          smoothmix_c: {{name: smoothmix_c, p: 0.16, technique: smoothmix_c, intruder: {{source: folder, path: {tmp_path / 'folder'}, size: 16}}}}
          cutmix: {{name: cutmix, p: 0.16, technique: cutmix, intruder: {{source: clips, path: {tmp_path / 'clips'}, size: 32}}}}
          mixup_patch: {{name: mixup_patch, p: 0.16, technique: mixup_patch, intruder: {{source: synthetic}}}}
          skip: {{p: 0.16, skips: "${{anomaly.skips}}"}}
          upside_down: {{p: 0.16}}
        """))
    run_cli("lnta.train", "anomaly=all_kinds", searchpath, "data.batch_size=16", "trainer.log_every_n_steps=1",
            *tiny, env=env)
    run = tmp_path / "run"
    sums = _metric_sums(run / "csv" / "metrics.csv")
    for name in ("smoothmix_s", "smoothmix_c", "cutmix", "mixup_patch", "skip", "upside_down"):
        assert sum(sums[f"train/fraction_{name}"]) > 0, name          # every type was drawn and trained
    assert (run / "pseudo_anomalies.png").stat().st_size > 10_000
    assert (run / "metrics.json").is_file()


def test_steal_objective_is_bounded(tmp_path, tiny):
    run_cli("lnta.train", "anomaly=steal", "anomaly.p=1.0", "anomaly.steal_margin=0.5",
            "anomaly.intruder.source=synthetic", "trainer.log_every_n_steps=1", *tiny)
    sums = _metric_sums(tmp_path / "run" / "csv" / "metrics.csv")
    losses = np.array(sums["train/loss_pseudo"])
    assert len(losses) == 2 and (losses < 0).all() and (losses >= -0.5).all()


def test_custom_type_alone_trains(tmp_path, tiny):
    env, searchpath = _user_extension(tmp_path)
    run_cli("lnta.train", "anomaly=upside_down", "anomaly.p=1.0", searchpath, "trainer.log_every_n_steps=1",
            *tiny, env=env)
    sums = _metric_sums(tmp_path / "run" / "csv" / "metrics.csv")
    assert sums["train/pseudo_fraction"] == [1.0, 1.0]


def test_visualize_writes_the_grid(tmp_path, tiny):
    data = [o for o in tiny if o.startswith("data.")]
    out = tmp_path / "grid.png"
    run_cli("lnta.visualize", *data, "anomaly.intruder.source=synthetic", f"out={out}",
            f"hydra.run.dir={tmp_path / 'vis'}")
    # conf/visualize.yaml: the normal clip, 4 patch techniques, skip-frame, 3 temporal types, the noise
    # patch: 10 rows of 4 frames, each cell 1.9 inches at 100 dpi
    grid = np.asarray(Image.open(out).convert("L"))
    assert grid.shape == (10 * 190, 4 * 190)
    drawn = [(grid[r * 190:(r + 1) * 190] < 250).mean() for r in range(10)]   # not white: the frames
    assert min(drawn) > 0.3, drawn   # every row holds its pictures (a label alone covers a few per cent)


def test_visualize_without_intruders_falls_back_to_synthetic(tmp_path, tiny):
    """A fresh clone has no CIFAR: ``intruder.source=auto`` uses the synthetic intruders and says so once."""
    data = [o for o in tiny if o.startswith("data.")]
    out = tmp_path / "grid.png"
    result = run_cli("lnta.visualize", *data, f"anomaly.intruder.path={tmp_path / 'nowhere'}", f"out={out}",
                     f"hydra.run.dir={tmp_path / 'vis'}")
    assert out.stat().st_size > 10_000
    log = result.stdout + result.stderr
    assert log.count("using the synthetic intruders") == 1, log[-2000:]


def test_a_cifar_release_without_the_train_split_names_the_split_it_has(tmp_path, tiny):
    """Issue 25 item 6: CIFAR-10 with only its test batch; the error suggests anomaly.intruder.split=test."""
    import pickle

    folder = tmp_path / "cifar" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 3]}, f)
    result = run_cli("lnta.train", "+experiment=synthetic_patch", "anomaly.intruder.source=auto",
                     f"anomaly.intruder.path={tmp_path / 'cifar'}",
                     *tiny, check=False)
    assert one_error(result).endswith("it has the 'test' split: set anomaly.intruder.split=test")


def test_missing_intruder_source_is_one_line(tmp_path, tiny):
    result = run_cli("lnta.train", "anomaly=patch", "anomaly.intruder.source=cifar",
                     f"anomaly.intruder.path={tmp_path / 'nowhere'}", *tiny, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: anomaly.intruder.path={tmp_path / 'nowhere'}: not found (expected a CIFAR pickle/release, "
        f"an image folder or a frames-layout dataset); get CIFAR-100 with: python -m lnta.download cifar100 "
        f"root={tmp_path}")
