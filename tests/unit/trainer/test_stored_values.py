"""A checkpoint's stored values pass the command line's rules, a resume keeps the training settings, and
unusable calibration statistics are refused (issue 23 items 5, 7, 9, 12)."""
from __future__ import annotations

import copy

import pytest

from lnta.errors import DataError
from lnta.trainer.checkpoint import check_calibration, check_stored_values, training_changes

CONFIG = {"seed": 0, "precision": "fast", "inference_compile": "auto",
          "model": {"_target_": "lnta.models.ConvAE3D", "in_channels": 1, "width": 0.125},
          "data": {"_target_": "lnta.data.SyntheticDataModule", "root": "/d", "image_size": 32, "clip_len": 16},
          "optimizer": {"lr": 1e-4}, "trainer": {"max_epochs": 1, "limit_train_batches": None},
          "anomaly": {"name": "none"}, "evaluation": {"pixel_stride": 4}}


def _with(path: str, value):
    config = copy.deepcopy(CONFIG)
    node, *rest = path.split(".")
    target = config
    for key in [node, *rest][:-1]:
        target = target[key]
    if value is KeyError:
        del target[[node, *rest][-1]]
    else:
        target[[node, *rest][-1]] = value
    return config


def test_a_resume_may_extend_and_move_but_not_change_what_is_trained():
    assert training_changes(CONFIG, _with("trainer.max_epochs", 5)) == []          # extending
    assert training_changes(CONFIG, _with("data.root", "/elsewhere")) == []        # the data moved
    assert training_changes(CONFIG, _with("evaluation.pixel_stride", 2)) == []     # testing, not training
    assert training_changes(CONFIG, _with("optimizer.lr", 0.01)) == [("optimizer.lr", 1e-4, 0.01)]
    assert training_changes(CONFIG, _with("data.image_size", 64)) == [("data.image_size", 32, 64)]
    assert training_changes(CONFIG, _with("seed", 1)) == [("seed", 0, 1)]
    assert training_changes(CONFIG, _with("trainer.limit_train_batches", 5)) == [("trainer.limit_train_batches", None, 5)]
    assert training_changes(_with("data.clip_len", KeyError), CONFIG) == [("data.clip_len", "<unset>", 16)]
    # anomaly=none gained p: 0 (issue 25): a baseline stored before resumes; another p is still a change
    assert training_changes(CONFIG, _with("anomaly.p", 0)) == []
    assert training_changes(CONFIG, _with("anomaly.p", 0.1)) == [("anomaly.p", "<unset>", 0.1)]


def test_stored_values_pass_the_command_line_rules():
    check_stored_values(CONFIG, "x.ckpt")
    for path, value, message in [
        ("data.image_size", 1_000_000, "ckpt_path=x.ckpt: stored data.image_size=1000000: expected an integer in [1, 2048]"),
        ("data.clip_len", 0, "ckpt_path=x.ckpt: stored data.clip_len=0: expected an integer >= 1"),
        ("data.image_size", 40, "ckpt_path=x.ckpt: stored data.image_size=40: expected a positive multiple of 16"),
        ("model._partial_", True, "ckpt_path=x.ckpt: stored model._partial_ is refused"),
        ("model", [1, 2], "ckpt_path=x.ckpt: stored model is not a config of an lnta class (list)"),
        ("precision", "bogus", "ckpt_path=x.ckpt: stored precision='bogus': expected one of fast, exact"),
        ("inference_compile", "sometimes", "ckpt_path=x.ckpt: stored inference_compile='sometimes': expected one of"),
    ]:
        with pytest.raises(DataError) as info:
            check_stored_values(_with(path, value), "x.ckpt")
        assert str(info.value).startswith(message) and "\n" not in str(info.value), str(info.value)


def test_unusable_calibration_statistics_are_refused():
    good = {"mean": 25.0, "std": 1.0, "n": 2, "psnr": [24.0, 26.0], "source": "2 training clips"}
    check_calibration(good, "x.ckpt")
    for change, why in [({"std": -1.0}, "std=-1.0, expected > 0"), ({"std": 0.0}, "std=0.0"),
                        ({"mean": float("nan")}, "mean=nan"), ({"psnr": []}, "no finite normal PSNRs"),
                        ({"psnr": [1.0, float("inf")]}, "no finite normal PSNRs")]:
        with pytest.raises(DataError, match=f"ckpt_path=x.ckpt: stored calibration statistics are unusable \\({why}"):
            check_calibration({**good, **change}, "x.ckpt")
    with pytest.raises(DataError, match="not a mapping"):
        check_calibration([1], "x.ckpt")
