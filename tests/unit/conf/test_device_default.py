"""GPU by default where there is one (issue 24, item 1): ``trainer=auto`` resolves to the GPU with a (faked)
CUDA device and to the CPU without; ``precision=fast`` then resolves to the GPU's settings; the README's GPU
commands compose. CUDA is faked in-process (``torch.cuda.is_available``), so this runs on any machine."""
from __future__ import annotations

import importlib.util
import re
import shlex

import pytest
import torch
from hydra.errors import InstantiationException
from omegaconf import open_dict

from lnta.trainer import precision
from tests.conftest import REPO
from tests.unit.conf.test_experiment_configs import _compose, sweep_jobs

pytestmark = pytest.mark.usefixtures("clean_hydra_config")


def _cuda(monkeypatch, present: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: present)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: present)


@pytest.mark.parametrize("present", [True, False])
def test_table1_jobs_train_on_the_gpu_where_there_is_one(monkeypatch, present):
    _cuda(monkeypatch, present)
    for job in sweep_jobs("table1"):
        cfg = _compose(job)
        assert cfg.trainer.accelerator == "auto", job  # the default, as `--cfg job` prints it
        assert precision.trainer_accelerator(cfg.trainer.accelerator) == ("gpu" if present else "cpu"), job
        speed = precision.speed_from_config(cfg)
        # the GPU's fast settings (README "Speed"): bf16 autocast, cuDNN autotuning, TF32, 4x test batches
        assert (speed.cudnn_benchmark, speed.tf32, speed.eval_batch_scale) == ((True, True, 4) if present else
                                                                                (False, False, 1)), job
        if present:
            assert speed.trainer_precision == "bf16-mixed" and speed.channels_last
    assert _compose(["ckpt_path=x.ckpt"], config="eval").trainer.accelerator == "auto"


def test_pinned_trainers_stay_pinned(monkeypatch):
    _cuda(monkeypatch, True)
    assert precision.trainer_accelerator(_compose(["trainer=cpu"]).trainer.accelerator) == "cpu"
    _cuda(monkeypatch, False)
    assert precision.trainer_accelerator(_compose(["trainer=gpu"]).trainer.accelerator) == "gpu"
    assert precision.trainer_accelerator(_compose(["trainer=gpu_slot"]).trainer.accelerator) == "gpu"


class _Built(Exception):
    """Raised by the fake Trainer: the command got as far as building it."""


def test_train_hands_lightning_the_resolved_device(tmp_path, monkeypatch):
    """The command, not only the config: ``lnta.train`` builds its Trainer with ``accelerator=gpu`` where CUDA is
    (faked) present. ``precision=exact`` keeps the process-wide cuDNN/TF32 flags at their defaults."""
    import pytorch_lightning as pl

    from lnta.train import train

    seen = {}

    def fake_trainer(**kwargs):
        seen.update(kwargs)
        raise _Built

    _cuda(monkeypatch, True)
    monkeypatch.setattr(pl, "Trainer", fake_trainer)
    cfg = _compose([f"data.root={tmp_path / 'synthetic'}", "data.size=16", "data.image_size=16",
                    "data.train_videos=2", "data.test_videos=1", "data.frames_per_video=24", "model.width=0.125",
                    f"paths.output_dir={tmp_path}", "precision=exact", "logger=none"])
    with open_dict(cfg):
        del cfg["hydra"]
    with pytest.raises(InstantiationException, match="_Built"):  # Hydra wraps what the target raises
        train(cfg)
    assert seen["accelerator"] == "gpu" and seen["devices"] == 1


def readme_gpu_commands() -> list[tuple[str, list[str]]]:
    """(module, overrides) of every ``python -m lnta.*`` command in the README's GPU block."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- gpu-commands:.*?-->\s*```bash\n(.*?)```", text, re.S)
    assert block, "README.md: the <!-- gpu-commands --> block is gone"
    commands = []
    for line in block.group(1).splitlines():
        for found in re.finditer(r"python -m (lnta\.\w+)([^;#]*)", line):
            commands.append((found.group(1), shlex.split(found.group(2).replace("$run", "RUN"))))
    return commands


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # no hydra_plugins namespace at all
        return False


def test_readme_gpu_commands_compose_and_train_on_the_gpu(monkeypatch):
    commands = readme_gpu_commands()
    assert {m for m, _ in commands} == {"lnta.train", "lnta.eval"} and len(commands) >= 4, commands
    launchers = {"parallel": "hydra_plugins.hydra_joblib_launcher", "slurm": "hydra_plugins.hydra_submitit_launcher"}
    _cuda(monkeypatch, True)
    for module, overrides in commands:
        launcher = next((v for o in overrides for k, v in launchers.items() if o == f"hydra/launcher={k}"), None)
        if launcher and not _installed(launcher):
            continue  # composes only with the plugin (tests/unit/conf/test_experiment_configs.py skips alike)
        cfg = _compose(overrides, config=module.split(".")[1])
        assert precision.trainer_accelerator(cfg.trainer.accelerator) == "gpu", (module, overrides)
