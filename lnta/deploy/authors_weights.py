"""``python -m lnta.convert src=FILE out=FILE``: the authors' released checkpoints as lnta checkpoints.

Their files hold a pickled ``DataParallel`` model under ``model`` (or a state dict under
``model_statedict``) with parameters ``module.encoder.encoder.*`` and ``module.decoder.decoder.*``.
A downloaded pickle is untrusted: it is read with an allow-list (tensors, containers), every other
class becomes an inert stand-in that runs no code, and obviously dangerous globals are refused.
"""
from __future__ import annotations

import codecs
import logging
import pickle
import types
from collections import OrderedDict
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from lnta.metrics.calibration import CALIBRATION_KEY, calibrate
from lnta.trainer.build import module_from_checkpoint
from lnta.trainer.checkpoint import CONFIG_KEY, load_checkpoint
from lnta.errors import DataError
from lnta.io import atomic_path
from lnta.models.conv_ae3d import _BASE_CHANNELS, ConvAE3D
from lnta.trainer.precision import resolve_device

log = logging.getLogger("lnta.convert")

_ALLOWED = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
    ("torch", "device"): torch.device,
    ("torch", "Size"): torch.Size,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("_codecs", "encode"): codecs.encode,  # bytes in protocol 2
}
# Protocol-2 pickles name these modules by their Python 2 names.
_PY2_NAMES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
_REFUSED_MODULES = {"builtins", "os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib",
                    "runpy", "pickle", "marshal", "ctypes", "code", "pty", "webbrowser", "multiprocessing"}


class Inert:
    """Stand-in for a class of the pickle (an ``nn.Module``, the authors' model): keeps its state, runs nothing."""

    origin = "?"

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)


def _reconstructor(cls, base, state):
    """``copyreg._reconstructor`` for stand-ins only."""
    if not (isinstance(cls, type) and issubclass(cls, Inert)):
        raise pickle.UnpicklingError(f"refusing to reconstruct {cls!r}")
    return cls()


_STAND_INS: dict[str, type] = {}


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        module = _PY2_NAMES.get(module, module)
        if (module, name) == ("copyreg", "_reconstructor"):
            return _reconstructor
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if module.split(".")[0] in _REFUSED_MODULES:
            raise pickle.UnpicklingError(f"refusing global {module}.{name}")
        key = f"{module}.{name}"
        if key not in _STAND_INS:
            _STAND_INS[key] = type(name, (Inert,), {"origin": key})
        return _STAND_INS[key]


#: A ``pickle_module`` for ``torch.load`` that unpickles with :class:`RestrictedUnpickler`.
restricted_pickle = types.SimpleNamespace(
    __name__="lnta_restricted_pickle", Unpickler=RestrictedUnpickler,
    load=lambda f, **kwargs: RestrictedUnpickler(f, **kwargs).load())


def load_untrusted(path: Path):
    """A checkpoint from the internet: ``weights_only`` if it is plain, else the restricted unpickler."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass
    except Exception as exc:  # noqa: BLE001 - unreadable file
        raise DataError(f"src={path}: not a readable PyTorch checkpoint ({exc.__class__.__name__}: {exc})") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=restricted_pickle)
    except Exception as exc:  # noqa: BLE001 - refused or malformed pickle
        raise DataError(f"src={path}: refused or unreadable pickle ({exc})") from None


def module_tensors(obj, prefix: str = "") -> dict[str, torch.Tensor]:
    """The state dict of an unpickled module tree of stand-ins (parameters and persistent buffers)."""
    state = vars(obj)
    out = {}
    skip = state.get("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if isinstance(value, torch.Tensor) and name not in skip:
                out[prefix + name] = value.detach().clone()
    for name, child in (state.get("_modules") or {}).items():
        if child is not None:
            out.update(module_tensors(child, f"{prefix}{name}."))
    return out


def authors_state_dict(obj, path: Path) -> dict[str, torch.Tensor]:
    """The parameters in one of the authors' files: ``model_statedict``, a pickled ``model``, or a bare state dict."""
    if isinstance(obj, dict) and "model_statedict" in obj:
        obj = obj["model_statedict"]
    elif isinstance(obj, dict) and "model" in obj:
        obj = obj["model"]
    if isinstance(obj, Inert):
        return module_tensors(obj)
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return dict(obj)
    raise DataError(f"src={path}: expected a 'model' or 'model_statedict' entry or a state dict")


def to_lnta_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Authors' names -> ConvAE3D's: drop ``module.``, ``encoder.encoder.`` -> ``encoder.`` (same for decoder)."""
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        for part in ("encoder", "decoder"):
            key = key.replace(f"{part}.{part}.", f"{part}.", 1) if key.startswith(f"{part}.{part}.") else key
        out[key] = value
    return out


def build_model(state: dict[str, torch.Tensor], path: Path) -> tuple[ConvAE3D, dict]:
    """A ConvAE3D holding ``state`` exactly (width and channels read off the first conv), and its config."""
    first = state.get("encoder.0.weight")
    if first is None or first.dim() != 5:
        raise DataError(f"src={path}: no 3D-conv 'encoder.encoder.0.weight'; not the authors' autoencoder")
    config = {"_target_": "lnta.models.ConvAE3D", "in_channels": int(first.shape[1]),
              "width": first.shape[0] / _BASE_CHANNELS[0]}
    model = ConvAE3D(config["in_channels"], config["width"])
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise DataError(f"src={path}: parameters do not match the authors' autoencoder: "
                        f"{str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else exc}") from None
    return model, config


def convert(cfg: DictConfig) -> Path:
    """Write ``cfg.out``, an lnta checkpoint of the authors' weights in ``cfg.src``."""
    src, out = Path(cfg.src).expanduser(), Path(cfg.out).expanduser()
    if not src.is_file():
        raise DataError(f"src={src}: file not found")
    obj = load_untrusted(src)
    model, model_cfg = build_model(to_lnta_keys(authors_state_dict(obj, src)), src)
    data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
    checkpoint = {"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                  CONFIG_KEY: {"model": model_cfg, "data": data_cfg, "converted_from": str(src.resolve())},
                  "epoch": int(obj["epoch"]) if isinstance(obj, dict) and isinstance(obj.get("epoch"), int) else -1}
    if cfg.calibrate:
        datamodule = hydra.utils.instantiate(cfg.data, _convert_="object")
        device = resolve_device(cfg.device)
        module = module_from_checkpoint(checkpoint, datamodule.center)
        checkpoint[CALIBRATION_KEY] = calibrate(module.model.eval().to(device), datamodule.store("train"),
                                                datamodule.clip_len, datamodule.center, cfg.calibration.max_clips,
                                                cfg.calibration.batch_size, device)
    with atomic_path(out) as tmp:
        torch.save(checkpoint, tmp)
    load_checkpoint(out)  # what we wrote must load with weights_only=True
    log.info("converted %s (ConvAE3D width %g) -> %s%s", src, model_cfg["width"], out,
             " with calibration" if cfg.calibrate else "")
    return out
