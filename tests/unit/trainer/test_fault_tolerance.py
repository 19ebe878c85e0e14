"""Runs that survive faults and bad input: start-up validation, exact resume, atomic checkpoints."""
import random
import re

import numpy as np
import pytest
import torch

from lnta.trainer.checkpoint import AtomicCheckpointIO
from lnta.data.order import EpochShuffle
from lnta.errors import ConfigError, DataError
from lnta.callbacks.resume import capture_rng, resume_checkpoint, restore_rng
from lnta.cli._entry import user_error
from lnta.anomaly.settings import patch_alpha, patch_beta, probability, skip_set
from lnta.anomaly.switch import anomalies_from_config
from lnta.data.sampling import SkipPairs
from lnta.models.settings import check_shapes
from omegaconf import OmegaConf


@pytest.mark.parametrize("rule, key, value, message", [
    (probability, "anomaly.p", 1.5, "anomaly.p=1.5: expected a probability in [0, 1]"),
    (probability, "anomaly.p", -0.1, "anomaly.p=-0.1: expected a probability in [0, 1]"),
    (probability, "anomaly.p", "high", "anomaly.p=high: expected a probability in [0, 1]"),
    (skip_set, "anomaly.skips", [1], "anomaly.skips=[1]: expected a non-empty list of integers > 1, e.g. [2, 3, 4, 5]"),
    (skip_set, "anomaly.skips", [], "anomaly.skips=[]: expected a non-empty list of integers > 1, e.g. [2, 3, 4, 5]"),
    (skip_set, "anomaly.skips", [2, 2.5],
     "anomaly.skips=[2, 2.5]: expected a non-empty list of integers > 1, e.g. [2, 3, 4, 5]"),
    (patch_alpha, "anomaly.alpha", 0, "anomaly.alpha=0: expected a value in (0, 1] (max patch side / frame side)"),
    (patch_alpha, "anomaly.alpha", 1.2, "anomaly.alpha=1.2: expected a value in (0, 1] (max patch side / frame side)"),
    (patch_beta, "anomaly.beta", -1, "anomaly.beta=-1: expected an integer >= 0 (max centre move in pixels)"),
    (patch_beta, "anomaly.beta", 2.5, "anomaly.beta=2.5: expected an integer >= 0 (max centre move in pixels)"),
])
def test_rules_name_key_value_and_expectation(rule, key, value, message):
    with pytest.raises(ConfigError) as info:
        rule(key, value)
    assert str(info.value) == message


def test_rules_accept_valid_values():
    assert probability("p", 0) == 0.0 and probability("p", 1) == 1.0
    assert skip_set("s", [2, 3.0]) == [2, 3]
    assert patch_alpha("a", 1) == 1.0 and patch_beta("b", 0) == 0


def test_enabled_types_p_sum_at_most_one():
    def types(p_patch, p_skip):
        return OmegaConf.create({"types": {"patch": {"_target_": "lnta.anomaly.RepeatFrames", "p": p_patch},
                                           "skip": {"_target_": "lnta.anomaly.SkipFrame", "p": p_skip}}})
    assert [a.p for a in anomalies_from_config(types(0.5, 0.5))] == [0.5, 0.5]
    with pytest.raises(ConfigError, match=r"anomaly.types.patch.p \+ anomaly.types.skip.p = 1.2: expected"):
        anomalies_from_config(types(0.7, 0.5))


@pytest.mark.parametrize("data, message", [
    ({"image_size": 40, "clip_len": 16}, "data.image_size=40: expected a positive multiple of 16"),
    ({"image_size": [32, 40], "clip_len": 16}, "data.image_size=[32, 40]: expected a positive multiple of 16"),
    ({"image_size": 32, "clip_len": 12}, "data.clip_len=12: expected a multiple of 8 greater than the scored frame"),
    ({"image_size": 32, "clip_len": 8}, "data.clip_len=8: expected a multiple of 8 greater than the scored frame"),
])
def test_shapes_must_suit_the_model(data, message):
    model = OmegaConf.create({"_target_": "lnta.models.ConvAE3D"})
    check_shapes(OmegaConf.create({"image_size": 32, "clip_len": 16}), model)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_shapes(OmegaConf.create(data), model)


def test_user_error_makes_hydra_and_omegaconf_errors_one_line():
    from hydra.errors import ConfigCompositionException, InstantiationException
    from omegaconf.errors import ConfigKeyError

    composition = ConfigCompositionException("Could not override 'anomaly.q'.\nTo append use +anomaly.q=1")
    composition.__cause__ = ConfigKeyError("Key 'q' is not in struct\n    full_key: anomaly.q")
    assert user_error(composition) == ("Could not override 'anomaly.q'. To append use +anomaly.q=1 "
                                       "(Key 'q' is not in struct)")
    wrapped = InstantiationException("Error in call to target")
    wrapped.__cause__ = ConfigError("anomaly.p=2: expected a probability in [0, 1]")
    assert user_error(wrapped) == "anomaly.p=2: expected a probability in [0, 1]"
    assert user_error(ValueError("a bug")) is None


def test_an_unwritable_log_file_is_one_line(tmp_path):
    """Issue 23, item 10: Hydra's logging config fails on ``<run dir>/<task>.log`` (a read-only run dir;
    here the log path is a folder, which fails the same way for root too) as ``logging.config`` reports it:
    ``ValueError("Unable to configure handler 'file'")`` from the handler's OSError."""
    import logging

    (tmp_path / "train.log").mkdir()
    with pytest.raises(OSError) as opening:
        logging.FileHandler(tmp_path / "train.log")
    error = ValueError("Unable to configure handler 'file'")
    error.__cause__ = opening.value
    assert user_error(error) == (f"{tmp_path / 'train.log'}: cannot write the command's log file "
                                 "(Is a directory); choose a writable hydra.run.dir")


def test_epoch_shuffle_depends_only_on_seed_and_epoch_and_resumes_mid_epoch():
    a, b = EpochShuffle(20, seed=3), EpochShuffle(20, seed=3)
    first = list(a)
    assert first == list(b) and sorted(i for i, _ in first) == list(range(20))
    a.set_epoch(1)
    second = list(a)
    assert second != first
    b.resume(epoch=1, done=8)
    assert list(b) == second[8:]
    assert list(b) == second  # the skip applies to one pass only
    assert list(EpochShuffle(20, seed=4)) != first


def test_rng_state_round_trip():
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    state = capture_rng()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.rand(5), np.random.rand(5), random.random()
    restore_rng(state)
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and random.random() == expected[2]


def test_resume_checkpoint_modes(tmp_path):
    assert resume_checkpoint("auto", tmp_path) is None
    assert resume_checkpoint(None, tmp_path) is None
    with pytest.raises(DataError, match="ckpt_path=last: .*last.ckpt not found"):
        resume_checkpoint("last", tmp_path)
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    last.write_bytes(b"x")
    assert resume_checkpoint("auto", tmp_path) == resume_checkpoint("last", tmp_path) == str(last)


def test_checkpoint_write_killed_midway_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1}, path)

    def dies_midway(obj, f):
        with open(f, "wb") as handle:
            handle.write(b"truncated")
        raise KeyboardInterrupt  # stands in for a kill during the write

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_wandb_run_id_is_kept_per_run_dir(tmp_path):
    from lnta.loggers.wandb import run_id

    first = run_id(str(tmp_path))
    assert first == run_id(str(tmp_path)) and len(first) == 12
    assert run_id(str(tmp_path / "other")) != first


def test_train_clip_draws_depend_only_on_the_item_seed():
    from lnta.data.datasets import TrainClips
    from lnta.data.io.store import FrameStore

    frames = np.arange(60, dtype=np.uint8)[:, None, None].repeat(4, 1).repeat(4, 2)  # grey level = frame number
    clips = TrainClips(FrameStore(["a"], [60], frames), clip_len=16, clip_rules=[SkipPairs([2, 3, 4, 5])])
    torch.manual_seed(0)
    first = clips[(3, 12345)]
    torch.rand(10)  # other consumers of the global RNG (training steps, other workers) do not matter
    again = clips[(3, 12345)]
    assert first["skip"] == again["skip"] and torch.equal(first["skip_clip"], again["skip_clip"])
    draws = {clips[(3, seed)]["skip"] for seed in range(40)}
    assert draws == {2, 3, 4, 5}
