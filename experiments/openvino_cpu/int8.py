"""INT8 post-training quantization of an ``lnta.export format=openvino`` IR with NNCF, for the speed and AUC table
in docs/performance.md. A measurement, not a feature: NNCF is not an lnta dependency (``pip install nncf``).

    python experiments/openvino_cpu/int8.py IN.xml OUT.xml --frames .../ped2/training/frames [--clips 128]

Calibration clips: ``--clips`` 16-frame clips of normal training footage (a folder of frame folders), spread
evenly over its videos, read and resized as lnta does (grayscale, the IR's ``image_size``, [-1, 1]).
``nncf.quantize`` with its defaults (8-bit weights and activations, per-channel weights). OUT carries IN's
``lnta.json``, so ``python -m lnta.score runtime=openvino ckpt_path=OUT.xml`` scores with it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from lnta.data.io.frames import list_frames, list_videos, read_gray, resize_gray
from lnta.deploy.openvino import RT_INFO


def clips(root: Path, n: int, size: int, clip_len: int) -> list[np.ndarray]:
    videos = list_videos(root)
    out = []
    for k in range(n):
        frames = list_frames(videos[k % len(videos)])
        starts = np.linspace(0, len(frames) - clip_len, max(1, n // len(videos)) + 1).astype(int)
        start = starts[(k // len(videos)) % len(starts)]
        gray = resize_gray(np.stack([read_gray(p) for p in frames[start:start + clip_len]]), size)
        out.append((gray.astype(np.float32) / 127.5 - 1)[None, None])
    return out


def main(argv=None) -> None:
    import nncf
    import openvino as ov

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames", type=Path, required=True, help="a folder of normal frame folders")
    parser.add_argument("--clips", type=int, default=128)
    args = parser.parse_args(argv)
    model = ov.Core().read_model(str(args.src))
    meta = json.loads(str(model.get_rt_info(RT_INFO).astype(str)))
    data = clips(args.frames, args.clips, meta["image_size"], meta["clip_len"])
    quantized = nncf.quantize(model, nncf.Dataset(data), subset_size=len(data))
    quantized.set_rt_info(json.dumps(meta), RT_INFO)
    ov.save_model(quantized, str(args.out), compress_to_fp16=False)
    print(f"{args.src} -> {args.out}: INT8, calibrated on {len(data)} clips of {args.frames}")


if __name__ == "__main__":
    main()
