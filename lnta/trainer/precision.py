"""The ``precision`` knob: ``exact`` (the reference's numerics) or ``fast`` (the fastest safe settings here).

``resolve_speed`` turns the knob and the device into concrete settings; ``apply_speed`` applies
them to the process and the model. What ``fast`` means depends on the hardware:

- bf16 autocast (``bf16-mixed``) only where bf16 is fast: CUDA GPUs with bf16 support and CPUs
  with AVX-512 bf16 or AMX. On an AVX2-only CPU bf16 is emulated and ~40x slower than fp32, so
  ``fast`` stays fp32 there and only the layout changes (numerics differ by float reassociation).
- ``channels_last_3d`` weights (oneDNN / cuDNN pick their fastest conv kernels for this layout;
  inputs stay in the default layout: with one channel converting them only costs time).
- cuDNN autotuning and TF32 for the remaining fp32 matmuls on GPU.
- larger test batches on GPU (``gpu_eval_batch_scale``, passed to the data module); testing always
  runs under ``inference_mode``.
- testing and scoring through ``torch.compile`` with Inductor freezing (``inference_compile``,
  :mod:`lnta.trainer.compiled`): ``auto`` where it was measured faster, i.e. on CPUs with native bf16;
  ``true`` wherever ``fast`` runs (GPUs included, not measured there); ``false`` never. ``exact``
  never compiles, whatever the setting.

An explicit ``trainer.precision`` (Lightning's setting) wins over the one the knob derives and is
recorded as ``trainer_precision`` in metrics.json; null derives it from the knob.

Training never compiles: ``torch.compile`` was measured slower than eager on the AVX2 CPU and, in
training and in plain inference, on the native-bf16 CPU too; only inference with Inductor freezing
won (docs/performance.md).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from lnta.errors import ConfigError

PRECISIONS = ("fast", "exact")


@dataclass(frozen=True)
class Speed:
    """Concrete settings resolved from the ``precision`` knob for one device."""

    precision: str              # the knob: fast | exact
    trainer_precision: str      # Lightning's precision: 32-true | bf16-mixed
    channels_last: bool         # model weights in channels_last_3d
    cudnn_benchmark: bool       # cuDNN autotuning (GPU)
    tf32: bool                  # TF32 for fp32 matmuls and convs (GPU)
    eval_batch_scale: int       # multiplies data.eval_batch_size
    inference_compile: bool = False  # test and score through torch.compile with Inductor freezing


def fast_bf16(device: torch.device | str) -> bool:
    """True where bf16 matmuls are native: CUDA with bf16 support, CPUs with AVX-512 bf16 or AMX."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_bf16_native()
    return False


BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})   # the kernel's names in /proc/cpuinfo


def cpu_bf16_native(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True where this CPU has AVX-512 bf16 or AMX. Newer torch answers it (``torch.cpu._is_avx512_bf16_supported``,
    ``_is_amx_tile_supported``, present in the 2.13 we install); torch 2.4, which our range admits, has no such
    check, so there the kernel's feature flags in ``cpuinfo`` answer (Linux; a file that cannot be read gives
    False: ``fast`` then stays fp32, which is exact to float reassociation)."""
    bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    if bf16 is not None and amx is not None:
        return bool(bf16() or amx())
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    flags = {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[-1].split()}
    return bool(BF16_CPU_FLAGS & flags)


def resolve_device(name: str | None, key: str = "device") -> torch.device:
    """The torch device of a device setting (``device`` of score/convert, Lightning's
    ``trainer.accelerator``): ``auto`` or None (a GPU when there is one), ``cpu``, ``gpu``/``cuda``,
    ``cuda:1`` ... (single-process view). Errors: :class:`ConfigError` naming ``key`` for a CUDA
    device where there is none, or a name torch does not know."""
    if name in ("auto", None):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch_name = "cuda" if name == "gpu" else str(name)
    if torch_name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"{key}={name}: no CUDA device available")
    try:
        return torch.device(torch_name)
    except RuntimeError:
        raise ConfigError(f"{key}={name}: expected auto, cpu, gpu, cuda or cuda:N") from None


def trainer_accelerator(name: str | None) -> str:
    """Lightning's ``accelerator`` for a ``trainer.accelerator`` setting: ``auto`` (the default, ``trainer=auto``)
    or None becomes ``gpu`` where :func:`resolve_device` finds a CUDA device, else ``cpu``, so Lightning trains on
    the device the speed settings were resolved for (Lightning's own ``auto`` would also pick MPS or a TPU, which
    lnta does not tune for); any other name is passed on unchanged for Lightning to check."""
    if name in ("auto", None):
        return "gpu" if resolve_device(name).type == "cuda" else "cpu"
    return str(name)


#: ``gpu_eval_batch_scale`` when a command does not set it (conf/train.yaml and conf/eval.yaml set it).
GPU_EVAL_BATCH_SCALE = 4


#: ``inference_compile=auto`` compiles only frames at least this large: the +21% was measured at 256x256,
#: where a test pass takes minutes; at 64x64 and below the compile (4-30 s) costs more than it saves.
AUTO_COMPILE_MIN_SIZE = 128


def resolve_speed(precision: str, device: torch.device | str, gpu_eval_batch_scale: int = GPU_EVAL_BATCH_SCALE,
                  trainer_precision: str | None = None, inference_compile: str | bool = "auto",
                  image_size: int | None = None) -> Speed:
    """Concrete settings for ``precision`` ('fast' or 'exact') on ``device``; ``fast`` on a GPU
    multiplies the test batch by ``gpu_eval_batch_scale``; an explicit ``trainer_precision``
    (e.g. ``bf16-mixed``) replaces the derived Lightning precision; ``inference_compile``
    (auto | true | false) as in the module docstring, ``auto`` only for frames of ``image_size`` >=
    :data:`AUTO_COMPILE_MIN_SIZE` pixels (None: unknown, as large). Errors: :class:`ConfigError` for an
    unknown precision or inference_compile."""
    speed = _resolve(precision, device, gpu_eval_batch_scale)
    speed = replace(speed, inference_compile=_inference_compile(inference_compile, speed, device, image_size))
    return replace(speed, trainer_precision=str(trainer_precision)) if trainer_precision is not None else speed


def _inference_compile(setting: str | bool, speed: Speed, device: torch.device | str, image_size=None) -> bool:
    if not (setting == "auto" or isinstance(setting, bool)):
        raise ConfigError(f"inference_compile={setting!r}: expected auto, true or false")
    if speed.precision == "exact":  # exact keeps the reference's eager numerics, whatever is inherited
        return False
    if setting == "auto":  # only where it was measured faster (docs/performance.md), and pays for its compile
        sizes = list(image_size) if isinstance(image_size, Sequence) and not isinstance(image_size, str) else [image_size]
        large = all(s is None or s >= AUTO_COMPILE_MIN_SIZE for s in sizes)
        return torch.device(device).type == "cpu" and fast_bf16(device) and large
    return setting


def _resolve(precision: str, device: torch.device | str, gpu_eval_batch_scale: int) -> Speed:
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r}: expected one of {', '.join(PRECISIONS)}")
    cuda = torch.device(device).type == "cuda"
    if precision == "exact":
        return Speed("exact", "32-true", channels_last=False, cudnn_benchmark=False, tf32=False,
                     eval_batch_scale=1)
    return Speed("fast", "bf16-mixed" if fast_bf16(device) else "32-true", channels_last=True,
                 cudnn_benchmark=cuda, tf32=cuda, eval_batch_scale=int(gpu_eval_batch_scale) if cuda else 1)


def precision_of(requested: str | None, trained: dict | None) -> str:
    """The one precision rule of every command that runs a trained model (eval, score, the
    end-of-training test): the requested knob, else the one stored with the checkpoint's run
    config; a checkpoint without one (converted from the authors' code) gets ``exact``."""
    if requested is not None:
        return requested
    return (trained or {}).get("precision") or "exact"


def inference_compile_of(requested: str | bool | None, trained: dict | None) -> str | bool:
    """``inference_compile`` by the same rule: the requested setting, else the checkpoint's run
    config's, so a re-test reproduces the end-of-training numbers; a checkpoint without one
    (trained before the setting existed, or converted) gets ``false``, which is how it was tested."""
    if requested is not None:
        return requested
    found = (trained or {}).get("inference_compile")
    return False if found is None else found


def autocast(speed: Speed | None, device: torch.device | str):
    """The autocast context of ``speed`` on ``device`` (bf16 where the knob resolved to
    ``bf16-mixed``, else a no-op; None: fp32), as Lightning's precision plugin uses it in ``test_step``."""
    device = torch.device(device)
    bf16 = speed is not None and speed.trainer_precision == "bf16-mixed"
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def speed_from_config(cfg, precision: str | None = None, inference_compile: str | bool | None = None,
                      image_size: int | None = None) -> Speed:
    """The settings of a command config for its ``trainer.accelerator``: the knob ``precision``
    (default ``cfg.precision``), ``evaluation.gpu_batch_scale``, an explicit ``trainer.precision`` and
    ``inference_compile`` (default ``cfg.inference_compile``, else auto) for frames of ``image_size``
    (default ``cfg.data.image_size``)."""
    if inference_compile is None:
        inference_compile = cfg.get("inference_compile", "auto")
    data = cfg.get("data") or {}
    return resolve_speed(precision or cfg.precision, resolve_device(cfg.trainer.get("accelerator"), "trainer.accelerator"),
                         (cfg.get("evaluation") or {}).get("gpu_batch_scale", GPU_EVAL_BATCH_SCALE), cfg.trainer.get("precision"),
                         inference_compile, image_size if image_size is not None else data.get("image_size"))


def apply_speed(speed: Speed, model: nn.Module | None = None) -> nn.Module | None:
    """Set the backend flags of ``speed`` and put ``model`` in its memory format; returns ``model``.
    (The test-batch scale is passed to the data module when it is built.)"""
    torch.backends.cudnn.benchmark = speed.cudnn_benchmark
    torch.backends.cuda.matmul.allow_tf32 = speed.tf32
    torch.backends.cudnn.allow_tf32 = speed.tf32
    if model is not None and speed.channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    return model
