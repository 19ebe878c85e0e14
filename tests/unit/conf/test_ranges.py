"""Numeric settings: every one in conf/ has a range rule (its group's table, gathered by
lnta.cli.settings.all_ranges), and out-of-range values give one line naming the key, for every command."""
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from lnta.errors import ConfigError
from lnta.cli.settings import all_ranges
from lnta.validate import check_ranges, range_rule
from tests.conftest import REPO, run_cli

CONF = REPO / "conf"
COMMANDS = sorted(p.stem for p in CONF.glob("*.yaml"))


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def _compositions() -> list[tuple[str, list[str]]]:
    """Every command with its defaults, and train (eval for data) with each option of each group."""
    runs = [(name, ["data=ped2"] if name == "eval" else []) for name in COMMANDS]
    for group in ("data", "model", "anomaly", "trainer", "logger", "callbacks", "evaluation"):
        runs += [("train", [f"{group}={option}"]) for option in _options(group)]
    for group in ("intruder", "scale", "experiment"):
        runs += [("train", ["anomaly=patch", f"+{group}={option}"]) for option in _options(group)]
    return runs


def _compose(name: str, overrides: list[str]):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(name, overrides=overrides)


def _numeric_leaves(node, prefix=""):
    for key in node:
        full = f"{prefix}{key}"
        if OmegaConf.is_interpolation(node, key) or OmegaConf.is_missing(node, key) or full.startswith("hydra."):
            continue
        value = node[key]
        if OmegaConf.is_dict(value):
            yield from _numeric_leaves(value, full + ".")
            continue
        values = list(value) if OmegaConf.is_list(value) else [value]
        if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            yield full


@pytest.mark.parametrize("name,overrides", _compositions(), ids=lambda x: x if isinstance(x, str) else " ".join(x))
def test_every_numeric_setting_has_a_range_and_the_defaults_pass(name, overrides):
    cfg = _compose(name, overrides)
    uncovered = [key for key in _numeric_leaves(cfg) if range_rule(key, all_ranges()) is None]
    assert not uncovered, f"numeric settings without a rule in their group's settings.py: {uncovered}"
    check_ranges(cfg, all_ranges())


BAD = [
    ("train", "data.batch_size=0", "data.batch_size=0: expected an integer >= 1"),
    ("train", "data.batch_size=2.5", "data.batch_size=2.5: expected an integer >= 1"),
    ("train", "data.eval_batch_size=-4", "data.eval_batch_size=-4: expected an integer >= 1"),
    ("train", "data.num_workers=-1", "data.num_workers=-1: expected an integer >= 0"),
    ("train", "data.image_size=0", "data.image_size=0: expected an integer in [1, 2048] or a non-empty list of them"),
    ("train", "data.size=4", "data.size=4: expected an integer >= 8"),
    ("train", "data.train_videos=0", "data.train_videos=0: expected an integer >= 1"),
    ("train", "data.frames_per_video=0", "data.frames_per_video=0: expected an integer >= 1"),
    ("train", "model.width=0", "model.width=0: expected a number > 0"),
    ("train", "model.in_channels=0", "model.in_channels=0: expected an integer >= 1"),
    ("train", "optimizer.lr=inf", "optimizer.lr=inf: expected a number > 0"),
    ("train", "optimizer.lr=-1e-4", "optimizer.lr=-0.0001: expected a number > 0"),
    ("train", "optimizer.betas=[0.9,1.0]", "optimizer.betas=[0.9, 1.0]: expected a number in [0, 1) or a"),
    ("train", "optimizer.weight_decay=-1", "optimizer.weight_decay=-1: expected a number >= 0"),
    ("train", "anomaly=patch anomaly.intruder.max_images=0", "anomaly.intruder.max_images=0: expected an integer >= 1"),
    ("train", "anomaly=steal anomaly.steal_margin=0", "anomaly.steal_margin=0: expected a number > 0"),
    ("train", "anomaly=patch_skip anomaly.types.patch.intruder.size=0",
     "anomaly.types.patch.intruder.size=0: expected null or an integer >= 1"),
    ("train", "anomaly=patch_skip anomaly.types.skip.p=2", "anomaly.types.skip.p=2: expected a probability"),
    ("train", "trainer.max_steps=-5", "trainer.max_steps=-5: expected an integer >= -1"),
    ("train", "trainer.max_epochs=1.5", "trainer.max_epochs=1.5: expected an integer >= 1 (or -1 with trainer.max_steps)"),
    ("train", "trainer.limit_train_batches=0", "trainer.limit_train_batches=0: expected null, a batch count >= 1"),
    ("train", "trainer.log_every_n_steps=0", "trainer.log_every_n_steps=0: expected an integer >= 1"),
    ("train", "trainer.devices=0", "trainer.devices=0: expected a device count >= 1, -1 (all), auto"),
    ("train", "callbacks.step_checkpoint.every_n_train_steps=-1",
     "callbacks.step_checkpoint.every_n_train_steps=-1: expected an integer >= 0"),
    ("train", "callbacks.model_checkpoint.save_top_k=-2",
     "callbacks.model_checkpoint.save_top_k=-2: expected an integer >= -1"),
    ("train", "evaluation.calibration.max_clips=0", "evaluation.calibration.max_clips=0: expected an integer >= 1"),
    ("train", "callbacks.dashboard.heatmaps=-1", "callbacks.dashboard.heatmaps=-1: expected an integer >= 0"),
    ("train", "seed=-1", "seed=-1: expected an integer in [0, 4294967296)"),
    ("train", "trainer.max_epochs=0", "trainer.max_epochs=0: expected an integer >= 1 (or -1 with trainer.max_steps)"),
    ("train", "evaluation.pixel_stride=0", "evaluation.pixel_stride=0: expected an integer >= 1"),
    ("eval", "data=ped2 data.eval_batch_size=0", "data.eval_batch_size=0: expected an integer >= 1"),
    ("eval", "evaluation.pixel_stride=0", "evaluation.pixel_stride=0: expected an integer >= 1"),
    ("score", "batch_size=0", "batch_size=0: expected an integer >= 1"),
    ("score", "false_alarm_rate=1", "false_alarm_rate=1: expected a number in (0, 1)"),
    ("score", "threshold=nan", "threshold=nan: expected null or a number (finite)"),
    ("score", "heatmap_max=0", "heatmap_max=0: expected a number > 0"),
    ("prepare", "data.image_size=-32", "data.image_size=-32: expected an integer in [1, 2048]"),
    ("prepare", "data.num_workers=-2", "data.num_workers=-2: expected an integer >= 0"),
    ("download", "timeout=0", "timeout=0: expected a number > 0"),
    ("download", "retries=-1", "retries=-1: expected an integer >= 0"),
    ("convert", "calibration.max_clips=0", "calibration.max_clips=0: expected an integer >= 1"),
    ("export", "tolerance=-1", "tolerance=-1: expected a number >= 0"),
    ("export", "onnx_tolerance=nan", "onnx_tolerance=nan: expected a number >= 0"),
    ("eval", "evaluation.region_quantile=1", "evaluation.region_quantile=1: expected a number in (0, 1)"),
    ("visualize", "sample=-1", "sample=-1: expected an integer >= 0"),
    ("visualize", "skips=[1]", "skips=[1]: expected an integer >= 2 or a list of them"),
]


@pytest.mark.parametrize("name,overrides,message", BAD, ids=[f"{n} {o}" for n, o, _ in BAD])
def test_out_of_range_settings_are_one_line(name, overrides, message):
    with pytest.raises(ConfigError) as info:
        check_ranges(_compose(name, overrides.split()), all_ranges())
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


@pytest.mark.slow
@pytest.mark.parametrize("command,overrides,message", [
    ("lnta.train", ["data.batch_size=0"], "error: data.batch_size=0: expected an integer >= 1"),
    ("lnta.score", ["ckpt_path=none.ckpt", "input=none.mp4", "batch_size=0"], "error: batch_size=0: expected an integer >= 1"),
    ("lnta.prepare", ["data=synthetic", "data.eval_batch_size=0"], "error: data.eval_batch_size=0: expected an integer >= 1"),
])
def test_the_cli_refuses_before_doing_anything(tmp_path, command, overrides, message):
    result = run_cli(command, *overrides, f"hydra.run.dir={tmp_path / 'run'}", check=False)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1] == message
    assert "Traceback" not in result.stderr
