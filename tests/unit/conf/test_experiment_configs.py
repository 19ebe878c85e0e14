"""Every experiment, sweep point and launcher config composes; its parts instantiate."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import OmegaConf

from lnta.anomaly.switch import anomalies_from_config
from tests.conftest import REPO

# each test sets Hydra's global HydraConfig (as a command does): cleared after it, never leaked
pytestmark = pytest.mark.usefixtures("clean_hydra_config")

CONF = REPO / "conf"
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
SWEEPS = sorted(p.stem for p in (CONF / "sweep").glob("*.yaml"))


def _compose(overrides: list[str], config: str = "train"):
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(config, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


#: The demo's experiments train at lr 3e-3 (README, "The demo"), and so does its model on your own footage at
#: CPU scale (folder_skip, README "Train on your own videos"); every other one at the paper's 1e-4.
DEMO = ("synthetic_baseline", "synthetic_patch", "synthetic_skip", "folder_skip")


def _instantiate_parts(cfg, tmp_path: Path, lr: float = 1e-4) -> None:
    """The model, the pseudo anomalies (synthetic intruders: no downloads) and the trainer."""
    instantiate(cfg.model)
    if "intruder" in cfg.anomaly:
        cfg.anomaly.intruder.source, cfg.anomaly.intruder.path = "synthetic", None
    anomalies_from_config(cfg.anomaly)
    instantiate(cfg.trainer, default_root_dir=str(tmp_path), logger=False)
    assert cfg.data.batch_size == 4 and cfg.optimizer.lr == lr


def sweep_jobs(sweep: str) -> list[list[str]]:
    """The override list of every job of ``+sweep=NAME`` (its sweeper params expanded)."""
    params = _compose([f"+sweep={sweep}"]).hydra.sweeper.params
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()])
    jobs = [[]]
    for override in parsed:
        values = list(override.sweep_string_iterator()) if override.is_sweep_override() else [override.value()]
        key = override.get_key_element()
        values = values[:1] if key == "seed" else values  # seeds do not change the composition
        jobs = [job + [f"{key}={v}"] for job in jobs for v in values]
    return [[f"+sweep={sweep}", *job] for job in jobs]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_with_paper_settings(experiment, tmp_path):
    cfg = _compose([f"+experiment={experiment}"])
    if experiment.startswith("ped2_"):
        assert cfg.trainer.max_epochs == 60 and cfg.data.image_size == 256 and cfg.data.clip_len == 16
        if "_target_" in cfg.anomaly:
            assert cfg.anomaly.p == 0.2
        if experiment.endswith("patch"):
            assert (cfg.anomaly.alpha, cfg.anomaly.beta) == (0.5, 10)
            assert cfg.anomaly.intruder.path.endswith("cifar-100-python")
        if experiment.endswith("skip"):
            assert list(cfg.anomaly.skips) == [2, 3, 4, 5]
    _instantiate_parts(cfg, tmp_path, lr=3e-3 if experiment in DEMO else 1e-4)


@pytest.mark.parametrize("sweep", SWEEPS)
def test_every_sweep_job_composes(sweep, tmp_path):
    cfg = _compose([f"+sweep={sweep}"])
    assert cfg.hydra.mode.name == "MULTIRUN" and "seed" in cfg.hydra.sweeper.params
    jobs = sweep_jobs(sweep) if sweep != "seeds" else [["+experiment=ped2_patch", "+sweep=seeds", "seed=1"]]
    assert len(jobs) > 1 or sweep == "seeds"
    for i, job in enumerate(jobs):
        cfg = _compose(job)
        for override in job[1:]:
            key, value = override.lstrip("+").split("=", 1)
            if key in ("seed", "experiment", "sweep"):
                continue
            if key == "anomaly":  # a config group: the job picks that option
                assert cfg.hydra.runtime.choices[key] == value, override
            elif key == "intruder":
                expected = OmegaConf.load(CONF / "intruder" / f"{value}.yaml")
                assert cfg.anomaly.intruder.source == expected.source, override
                assert cfg.anomaly.intruder.path == str(expected._get_node("path")._value()).replace(
                    "${paths.data_dir}", cfg.paths.data_dir), override
            else:
                assert str(OmegaConf.select(cfg, key)).replace(" ", "") == value, override
        if "intruder" in cfg.anomaly:
            cfg.anomaly.intruder.source, cfg.anomaly.intruder.path = "synthetic", None
        anomalies_from_config(cfg.anomaly)
    _instantiate_parts(cfg, tmp_path)


def test_table1_sweep_takes_another_dataset_on_the_command_line():
    cfg = _compose(["+sweep=table1", "experiment=ped2_skip"])
    assert cfg.anomaly.skips is not None and cfg.data.name == "ped2"


@pytest.mark.parametrize("launcher,plugin", [("parallel", "hydra_plugins.hydra_joblib_launcher"),
                                             ("slurm", "hydra_plugins.hydra_submitit_launcher"),
                                             ("slurm_ddp", "hydra_plugins.hydra_submitit_launcher")])
def test_launcher_configs_compose(launcher, plugin):
    try:
        found = importlib.util.find_spec(plugin) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        pytest.skip(f"{plugin} not installed (pip install -e '.[launchers]' / '.[slurm]')")
    cfg = _compose(["+sweep=fig4_patch_p", f"hydra/launcher={launcher}"])
    assert "Launcher" in cfg.hydra.launcher._target_
    if launcher.startswith("slurm"):
        assert cfg.hydra.launcher.gpus_per_node == cfg.hydra.launcher.tasks_per_node


def test_ddp_and_gpu_slot_trainers_compose():
    cfg = _compose(["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"])
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.sync_batchnorm is False
    cfg = _compose(["trainer=gpu_slot"])
    assert cfg.trainer.accelerator == "gpu" and OmegaConf.to_yaml(cfg.trainer).count("lnta_gpu_slot") == 1


def test_loggers_combine_and_wandb_names_come_from_the_setting():
    cfg = _compose(["+experiment=ped2_skip", "logger=[csv,wandb]", "seed=2"])
    assert set(cfg.logger) == {"csv", "wandb"}
    facts = OmegaConf.to_container(cfg.logger.wandb.facts, resolve=True)
    assert facts == {"experiment": "ped2_skip", "dataset": "ped2", "anomaly": "skip", "p": 0.2,
                     "s": [2, 3, 4, 5], "alpha": None, "beta": None, "seed": 2}
