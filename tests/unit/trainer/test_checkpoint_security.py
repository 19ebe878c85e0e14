"""A checkpoint is data: nothing it names or pickles is ever called (issue: "a checkpoint can run code").

Each crafted file points a stored ``_target_`` (or a pickled ``__reduce__``) at ``builtins.open`` on
a marker path; every CLI that loads checkpoints must refuse it with one line, exit 2, and leave
no marker behind.
"""
from __future__ import annotations

import pickle

import pytest
import torch

from lnta.trainer.checkpoint import check_stored_config, load_checkpoint
from lnta.errors import DataError
from lnta.models import ConvAE3D
from lnta.models.module import CONFIG_KEY
from tests.conftest import run_cli

GOOD_MODEL = {"_target_": "lnta.models.ConvAE3D", "in_channels": 1, "width": 0.125}
GOOD_DATA = {"_target_": "lnta.data.SyntheticDataModule", "image_size": 32, "clip_len": 16}


def _open(marker) -> dict:
    return {"_target_": "builtins.open", "_args_": [str(marker), "w"]}


def _routes(marker) -> dict[str, dict]:
    """Stored configs that would call ``open(marker, "w")`` if instantiated."""
    return {
        "target": {"model": _open(marker), "data": GOOD_DATA},
        "partial": {"model": {**_open(marker), "_partial_": True}, "data": GOOD_DATA},
        "nested_model": {"model": {**GOOD_MODEL, "width": _open(marker)}, "data": GOOD_DATA},
        "nested_args": {"model": {**GOOD_MODEL, "_args_": [_open(marker)]}, "data": GOOD_DATA},
        "data": {"model": GOOD_MODEL, "data": _open(marker)},
        "nested_data": {"model": GOOD_MODEL, "data": {**GOOD_DATA, "intruder": _open(marker)}},
        "torch_load": {"model": {"_target_": "torch.load", "f": str(marker), "weights_only": False},
                       "data": GOOD_DATA},
        "lnta_but_not_a_model": {"model": {"_target_": "lnta.io.atomic_path", "path": str(marker)},
                                 "data": GOOD_DATA},
        "interpolation": {"model": {**GOOD_MODEL, "width": "${oc.env:HOME}"}, "data": GOOD_DATA},
    }


def _write(path, config) -> None:
    state = {f"model.{k}": v for k, v in ConvAE3D(1, 0.125).state_dict().items()}
    torch.save({"state_dict": state, CONFIG_KEY: config, "epoch": 0, "global_step": 0}, path)


@pytest.mark.parametrize("route", list(_routes("x")))
def test_every_route_to_a_call_is_refused(tmp_path, route):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.ckpt"
    _write(path, _routes(marker)[route])
    with pytest.raises(DataError, match=r"evil\.ckpt: lnta_config\.(model|data).* is refused"):
        load_checkpoint(path)
    assert not marker.exists()


def test_own_classes_pass(tmp_path):
    path = tmp_path / "good.ckpt"
    _write(path, {"model": GOOD_MODEL, "data": GOOD_DATA, "anomaly": {"_target_": "my_own.Anomaly"}})
    assert load_checkpoint(path)[CONFIG_KEY]["model"] == GOOD_MODEL  # other groups are never built
    check_stored_config({"model": {**GOOD_MODEL, "_target_": "lnta.models.conv_ae3d.ConvAE3D"},
                         "data": {**GOOD_DATA, "_target_": "lnta.data.datamodule.VideoDataModule"}}, path)


class _Payload:
    """Unpickling this calls ``open(marker, "w")``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def _pickled(path, marker, extra: dict | None = None) -> None:
    state = {f"model.{k}": v for k, v in ConvAE3D(1, 0.125).state_dict().items()}
    with open(path, "wb") as f:
        pickle.dump({"state_dict": state, CONFIG_KEY: {"model": GOOD_MODEL, "data": GOOD_DATA},
                     "payload": _Payload(marker), **(extra or {})}, f)


def _assert_refused(result, marker) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert not marker.exists()


@pytest.mark.slow
@pytest.mark.parametrize("cli", ["eval", "score", "export"])
def test_cli_refuses_crafted_config(tmp_path, cli):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.ckpt"
    _write(path, _routes(marker)["target"])
    args = {"eval": [], "score": [f"input={tmp_path}"], "export": [f"out={tmp_path / 'ae.pt'}"]}[cli]
    result = run_cli(f"lnta.{cli}", f"ckpt_path={path}", *args, f"hydra.run.dir={tmp_path / 'run'}", check=False)
    _assert_refused(result, marker)
    assert "is refused" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("cli", ["eval", "score", "export"])
def test_cli_refuses_pickled_code(tmp_path, cli):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.ckpt"
    _pickled(path, marker)
    args = {"eval": [], "score": [f"input={tmp_path}"], "export": [f"out={tmp_path / 'ae.pt'}"]}[cli]
    result = run_cli(f"lnta.{cli}", f"ckpt_path={path}", *args, f"hydra.run.dir={tmp_path / 'run'}", check=False)
    _assert_refused(result, marker)


@pytest.mark.slow
def test_convert_refuses_pickled_code(tmp_path):
    marker = tmp_path / "marker"
    src = tmp_path / "theirs.pth"
    with open(src, "wb") as f:
        pickle.dump({"model_statedict": {}, "payload": _Payload(marker)}, f)
    result = run_cli("lnta.convert", f"src={src}", f"out={tmp_path / 'ours.ckpt'}",
                     f"hydra.run.dir={tmp_path / 'run'}", check=False)
    _assert_refused(result, marker)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["config", "pickle"])
def test_train_resume_refuses_crafted_last_ckpt(tmp_path, tiny, kind):
    marker = tmp_path / "marker"
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    if kind == "config":
        _write(last, _routes(marker)["target"])
    else:
        _pickled(last, marker)
    result = run_cli("lnta.train", *tiny, "logger=csv", check=False)
    _assert_refused(result, marker)
    assert not (tmp_path / "run" / "csv").exists()  # refused before any logger touched the run dir


def test_a_run_folder_means_its_last_checkpoint(tmp_path):
    """lnta.score/export/calibrate accept a run folder, as lnta.eval does: its checkpoints/last.ckpt."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    _write(run / "checkpoints" / "last.ckpt", {"model": GOOD_MODEL, "data": GOOD_DATA})
    assert load_checkpoint(run)[CONFIG_KEY]["model"] == GOOD_MODEL
    with pytest.raises(DataError, match="a folder without checkpoints/last.ckpt"):
        load_checkpoint(tmp_path)  # holds run/, but no checkpoints/last.ckpt of its own
