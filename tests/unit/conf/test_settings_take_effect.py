"""Settings that used to hide in code: each is overridden like on the command line and takes effect."""
from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

from lnta.anomaly.switch import anomalies_from_config
from lnta.train import build_datamodule
from lnta.trainer.build import build_module
from lnta.data import ondevice
from lnta.errors import ConfigError
from lnta.models import ConvAE3D
from lnta.models.module import LNTAModule
from lnta.trainer.precision import speed_from_config
from tests.conftest import REPO

# each test sets Hydra's global HydraConfig (as a command does): cleared after it, never leaked
pytestmark = pytest.mark.usefixtures("clean_hydra_config")


def _train_config(tmp_path, *overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", return_hydra_config=True, overrides=[
            f"data.root={tmp_path / 'synthetic'}", "data.size=16", "data.image_size=16", "data.train_videos=2",
            "data.test_videos=1", "data.frames_per_video=24", "model.width=0.125", f"paths.output_dir={tmp_path}",
            *overrides])
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):  # as in a command: the hydra node is not part of the task config
        del cfg["hydra"]
    return cfg


def test_gpu_eval_batch_scale_multiplies_the_test_batch(tmp_path, monkeypatch):
    from lnta.trainer import precision  # a GPU as the training device, on any machine

    monkeypatch.setattr(precision, "resolve_device", lambda name, key="device": torch.device("cuda"))
    monkeypatch.setattr(precision, "fast_bf16", lambda device: False)
    cfg = _train_config(tmp_path, "trainer=gpu", "precision=fast", "evaluation.gpu_batch_scale=3", "data.eval_batch_size=5")
    dm = build_datamodule(cfg, speed_from_config(cfg))
    dm.setup("test")
    assert dm.test_dataloader().batch_size == 15
    cfg = _train_config(tmp_path, "trainer=gpu", "precision=exact", "evaluation.gpu_batch_scale=3", "data.eval_batch_size=5")
    dm = build_datamodule(cfg, speed_from_config(cfg))
    dm.setup("test")
    assert dm.test_dataloader().batch_size == 5  # exact keeps the configured batch


def test_device_memory_fraction_decides_what_fits(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1000, 4000))
    for fraction, fits in ((0.25, False), (0.5, True)):
        cfg = _train_config(tmp_path, f"data.device_memory_fraction={fraction}")
        dm = build_datamodule(cfg, speed_from_config(cfg))
        assert ondevice.fits_on(400, "cuda", dm.device_memory_fraction) is fits


def test_run_seed_orders_the_training_clips(tmp_path):
    orders = []
    for seed in (7, 7, 8):
        cfg = _train_config(tmp_path, f"seed={seed}")
        dm = build_datamodule(cfg, speed_from_config(cfg))
        dm.setup("fit")
        assert dm.train_order.seed == seed
        orders.append([i for i, _ in dm.train_order])
    assert orders[0] == orders[1] != orders[2]


def test_skips_reach_the_data_from_the_anomaly_type(tmp_path):
    """The skip-frame type owns its data need: the data module gets the type's clip rule, no mirror key."""
    from lnta.data.sampling import SkipPairs

    def rules(*overrides):
        cfg = _train_config(tmp_path, *overrides)
        return build_datamodule(cfg, speed_from_config(cfg), anomalies_from_config(cfg.anomaly)).clip_rules
    assert rules("anomaly=skip", "anomaly.skips=[3,4]") == [SkipPairs((3, 4))]
    assert rules("anomaly=patch_skip", "anomaly.types.skip.skips=[2]") == [SkipPairs((2,))]
    assert rules("anomaly=none") == [] and rules("anomaly=patch") == []


def _module(cfg):
    """The training module of ``cfg``, as lnta.train builds it."""
    return build_module(OmegaConf.to_container(cfg, resolve=True), 8, speed=speed_from_config(cfg),
                        anomalies=anomalies_from_config(cfg.anomaly), train=True)


def test_optimizer_comes_from_the_config_only(tmp_path):
    cfg = _train_config(tmp_path, "optimizer.lr=0.5", "optimizer.betas=[0.8,0.9]")
    optimizer = _module(cfg).configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam)
    # betas: a list on torch 2.4, a tuple on newer torch
    assert optimizer.param_groups[0]["lr"] == 0.5 and tuple(optimizer.param_groups[0]["betas"]) == (0.8, 0.9)
    with pytest.raises(ConfigError, match="optimizer"):
        LNTAModule(ConvAE3D(width=0.125)).configure_optimizers()  # no silent fallback


def test_explicit_trainer_precision_wins_over_the_knob(tmp_path):
    cfg = _train_config(tmp_path, "precision=exact", "trainer.precision=bf16-mixed")
    speed = speed_from_config(cfg)
    assert (speed.precision, speed.trainer_precision) == ("exact", "bf16-mixed")
    cfg = _train_config(tmp_path, "precision=exact")
    assert speed_from_config(cfg).trainer_precision == "32-true"  # null: derived from the knob


def test_folder_intruder_crop_and_flip_settings(tmp_path):
    from PIL import Image
    import numpy as np

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((20, 30), 10 * i, np.uint8)).save(folder / f"{i}.png")
    common = ["anomaly=patch", "anomaly.intruder.source=folder", f"anomaly.intruder.path={folder}",
              "anomaly.intruder.size=16"]
    cfg = _train_config(tmp_path, *common, "anomaly.intruder.crop_scale=[1.0,1.0]",
                        "anomaly.intruder.crop_ratio=[1.0,1.0]", "anomaly.intruder.flip=0.0")
    [patch] = _module(cfg).anomalies
    bank = patch.augment.intruders
    params = bank((64, 1, 16, 16, 16))
    boxes = params["intruder_box"]  # the whole 16 px square: scale 1, ratio 1
    assert torch.equal(boxes[:, 0], torch.zeros(64, 2)) and torch.equal(boxes[:, 2], torch.full((64, 2), 15.0))
    assert not params["intruder_hflip"].any() and not params["intruder_vflip"].any()
    cfg = _train_config(tmp_path, *common, "anomaly.intruder.flip=1.0", "anomaly.intruder.crop_scale=[0.1,0.2]")
    params = _module(cfg).anomalies[0].augment.intruders((64, 1, 16, 16, 16))
    assert params["intruder_hflip"].all() and params["intruder_vflip"].all()
    area = (params["intruder_box"][:, 2] - params["intruder_box"][:, 0] + 1).prod(1) / 16**2
    assert float(area.max()) < 0.35  # crops of at most ~20 % of the image (rounding to whole pixels)
