"""``python -m lnta.export ckpt_path=FILE out=FILE.pt [format=onnx|openvino]``: the AE for deployment.

The file maps a (B, 1, T, H, W) clip in [-1, 1] to its reconstruction and carries ``lnta.json``
(:mod:`lnta.deploy.metadata`: image size, clip length, scored frame, calibration): as an extra file of
the TorchScript archive (``format=torchscript``, default; :mod:`lnta.deploy.torchscript`), or as ONNX
``metadata_props`` (``format=onnx``, :mod:`lnta.deploy.onnx`), or in the OpenVINO IR's ``rt_info``
(``format=openvino``, ``out=FILE.xml`` + ``FILE.bin``, :mod:`lnta.deploy.openvino`). The export is checked by
reloading it (TorchScript; onnxruntime for ONNX; OpenVINO's CPU plugin at f32 for the IR) and comparing its
reconstructions of random clips with the checkpoint's model.
"""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from lnta.cli._entry import entry_point
from lnta.errors import ConfigError, DataError

log = logging.getLogger("lnta.export")

FORMATS = ("torchscript", "onnx", "openvino")
TOLERANCE_KEYS = {"torchscript": "tolerance", "onnx": "onnx_tolerance", "openvino": "openvino_tolerance"}
CHECKED_BY = {"torchscript": "TorchScript", "onnx": "ONNX, checked with onnxruntime",
              "openvino": "OpenVINO IR, checked with OpenVINO CPU at f32"}


def export(cfg: DictConfig) -> float:
    fmt = cfg.get("format", "torchscript")
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt}: expected {', '.join(FORMATS[:-1])} or {FORMATS[-1]}")
    if fmt == "onnx":
        from lnta.deploy.onnx import export_onnx, require_onnx
        require_onnx()  # before any work
    if fmt == "openvino":
        from lnta.deploy.openvino import export_openvino, ir_out, require_openvino
        require_openvino("format=openvino")  # before any work
        ir_out(cfg.out)
    import torch  # here, not at the top: ``--help`` stays fast

    from lnta.deploy.metadata import check_clips, metadata
    from lnta.deploy.torchscript import export_torchscript
    from lnta.trainer.build import module_from_checkpoint
    from lnta.trainer.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(cfg.ckpt_path)
    meta = metadata(checkpoint)
    model = module_from_checkpoint(checkpoint).model
    size = meta["image_size"]
    example = torch.zeros(1, model.in_channels, meta["clip_len"], size, size)
    if fmt == "torchscript":
        diff = export_torchscript(model, example, Path(cfg.out), meta)
    elif fmt == "onnx":
        diff = export_onnx(model, example, Path(cfg.out), meta, check_clips(example.shape[1:]))
    else:
        diff = export_openvino(model, example, Path(cfg.out), meta, check_clips(example.shape[1:]))
    key = TOLERANCE_KEYS[fmt]
    tolerance = cfg[key]
    if diff > tolerance:
        raise DataError(f"out={cfg.out}: exported model differs from the checkpoint by {diff:.3g} "
                        f"(> {key}={tolerance})")
    log.info("exported %s -> %s (%s), max abs reconstruction difference %.3g (tolerance %g)", cfg.ckpt_path,
             cfg.out, CHECKED_BY[fmt], diff, tolerance)
    return diff


@entry_point("export")
def main(cfg: DictConfig) -> None:
    export(cfg)


if __name__ == "__main__":
    main()
