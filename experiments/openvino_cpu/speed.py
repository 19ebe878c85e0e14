"""Scoring frames/s of the AE on this CPU: PyTorch eager (exact, fast), compiled (fast + Inductor freezing) and
OpenVINO (f32; bf16 where the CPU plugin offers it), one timing harness for all (lnta.benchmark.timing).

    python experiments/openvino_cpu/speed.py --size 64 --out outputs/openvino_speed_64.json
    python experiments/openvino_cpu/speed.py --size 256 --batch 4 --repeats 2 --out outputs/openvino_speed_256.json

Each row times what lnta.score does per batch of clips: uint8 clips -> [-1, 1] -> reconstruction -> PSNR of
the scored frame (:func:`lnta.metrics.protocol.frame_psnr`), on the same random clips, after warm-up calls
(the compiled row's first call, which compiles, is reported apart). Every row is prepared first, then timed
once per round for ``--rounds`` rounds in a rotated order, so that all rows see the same drifting load of a
shared machine; each row reports the median over rounds and its median ratio to the exact row's same round. The AE is the reference model at
``--width`` (1.0: 5,980,801 parameters) with random weights and trained-like BatchNorm statistics: speed does
not depend on the weights' values. PyTorch uses ``torch.get_num_threads()`` threads (OMP_NUM_THREADS), OpenVINO
its default (one stream, every core), both printed.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lnta.benchmark.timing import seconds_per_call
from lnta.data.sampling import REFERENCE_CENTER
from lnta.data.transforms import to_unit
from lnta.metrics.protocol import frame_psnr
from lnta.models import ConvAE3D
from lnta.trainer.compiled import inference_forward
from lnta.trainer.precision import apply_speed, autocast, resolve_speed


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def model(width: float) -> ConvAE3D:
    torch.manual_seed(0)
    ae = ConvAE3D(width=width)
    for m in ae.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    return ae.eval()


def prepared(forward, clips, speed) -> tuple:
    """The timed call of one row (normalise, reconstruct, PSNR of the scored frame) and its first call's seconds
    (which compiles, for the compiled row)."""
    @torch.inference_mode()
    def run():
        apply_speed(speed or resolve_speed("exact", "cpu"))
        x = to_unit(clips)
        with autocast(speed, "cpu"):
            out = forward(x)
        return frame_psnr(out.float(), x, REFERENCE_CENTER)

    t0 = time.perf_counter()
    run()
    return run, time.perf_counter() - t0


def int8_row(xml: Path, clips: torch.Tensor) -> dict:
    """The IR quantized to INT8 by NNCF (defaults; calibrated on ``clips`` themselves), timed like the others."""
    try:
        import nncf
    except ImportError:
        return {"note": "not measured: nncf is not installed (pip install nncf)"}
    import openvino as ov

    from lnta.deploy.openvino import RT_INFO, load_openvino

    model = ov.Core().read_model(str(xml))
    data = [to_unit(c[None]).numpy() for c in clips]
    t0 = time.perf_counter()
    quantized = nncf.quantize(model, nncf.Dataset(data), subset_size=len(data))
    quantize_s = time.perf_counter() - t0
    quantized.set_rt_info(str(model.get_rt_info(RT_INFO).astype(str)), RT_INFO)
    ov.save_model(quantized, str(xml.with_name("ae_int8.xml")), compress_to_fp16=False)
    forward, _, used = load_openvino(xml.with_name("ae_int8.xml"), "exact")
    run, first = prepared(forward, clips, None)
    return {"settings": f"OpenVINO CPU, INT8 by nncf {nncf.__version__}, other layers {used}", "quantize_s": quantize_s,
            "first_call_s": first, "run": run}


def timed_rows(result: dict, batch: int, rounds: int, repeats: int) -> None:
    """Time every ready row once per round, the order rotated each round; per row the median frames/s over the
    rounds (min, max), and the median over rounds of its ratio to the exact row of the same round."""
    rows = {name: r for name, r in result["rows"].items() if "run" in r}
    names = list(rows)
    per_round = {name: [] for name in names}
    for k in range(rounds):
        for name in names[k % len(names):] + names[:k % len(names)]:
            per_round[name].append(batch / seconds_per_call(rows[name]["run"], repeats))
    for name, r in rows.items():
        fps = np.array(per_round[name])
        del r["run"]
        r.update(frames_per_s=float(np.median(fps)), frames_per_s_min=float(fps.min()),
                 frames_per_s_max=float(fps.max()), frames_per_s_rounds=fps.tolist(),
                 vs_exact=float(np.median(fps / np.array(per_round["exact"]))) if "exact" in per_round else float("nan"))
    result["rounds"] = rounds


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=16, help="clips per call (lnta.score's batch_size default)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per row and round, their mean")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds; each times every row once, in a rotated order (paired under drifting load)")
    parser.add_argument("--rows", default="exact,fast,compiled,openvino_f32,openvino_bf16,openvino_int8",
                        help="openvino_int8 needs nncf (pip install nncf; not an lnta dependency): the IR quantized "
                             "by nncf.quantize on the timed clips (speed only; for the AUC see int8.py)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    rows = args.rows.split(",")
    torch.manual_seed(1)
    clips = torch.randint(0, 256, (args.batch, 1, args.frames, args.size, args.size), dtype=torch.uint8)
    result = {"cpu": cpu_name(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
              "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "size": args.size,
              "frames": args.frames, "width": args.width, "batch": args.batch, "repeats": args.repeats, "rows": {}}

    def log(name):
        r = result["rows"][name]
        print(f"  {name:<14} " + (f"{r['frames_per_s']:8.2f} frames/s (min {r['frames_per_s_min']:.2f}, max "
                                  f"{r['frames_per_s_max']:.2f})  x{r['vs_exact']:.2f} vs exact  "
                                  f"first call {r['first_call_s']:.1f} s" if "frames_per_s" in r else
                                  r.get("note", f"ready, first call {r.get('first_call_s', 0):.1f} s")),
              file=sys.stderr, flush=True)

    for name in ("exact", "fast", "compiled"):
        if name not in rows:
            continue
        speed = resolve_speed("exact" if name == "exact" else "fast", "cpu",
                              inference_compile=name == "compiled", image_size=args.size)
        ae = apply_speed(speed, model(args.width))
        run, first = prepared(inference_forward(speed, ae), clips, speed)
        result["rows"][name] = {"settings": f"{speed.trainer_precision}, channels_last={speed.channels_last}, "
                                            f"compiled={speed.inference_compile}", "first_call_s": first, "run": run}
        log(name)

    if any(r.startswith("openvino") for r in rows):
        import openvino as ov
        import openvino.properties.device as device

        from lnta.deploy.metadata import check_clips
        from lnta.deploy.openvino import export_openvino, load_openvino

        capabilities = ov.Core().get_property("CPU", device.capabilities())
        result.update(openvino=ov.__version__, openvino_capabilities=list(capabilities))
        ae = model(args.width)
        with tempfile.TemporaryDirectory() as tmp:
            example = torch.zeros(1, 1, args.frames, args.size, args.size)
            t0 = time.perf_counter()
            diff = export_openvino(ae, example, Path(tmp) / "ae.xml", {}, check_clips(example.shape[1:]))
            result["openvino_export_s"], result["openvino_export_max_abs_diff"] = time.perf_counter() - t0, diff
            for name, precision, needs in (("openvino_f32", "exact", None), ("openvino_bf16", "fast", "BF16")):
                if name not in rows:
                    continue
                if needs and needs not in capabilities:
                    result["rows"][name] = {"note": f"not offered: the CPU plugin's capabilities here are "
                                                    f"{', '.join(capabilities)} (no {needs})"}
                else:
                    t0 = time.perf_counter()
                    forward, _, used = load_openvino(Path(tmp) / "ae.xml", precision)
                    compile_s = time.perf_counter() - t0
                    run, first = prepared(forward, clips, None)
                    result["rows"][name] = {"settings": f"OpenVINO CPU, inference precision {used}",
                                            "compile_s": compile_s, "first_call_s": first, "run": run}
                log(name)
            if "openvino_int8" in rows:
                result["rows"]["openvino_int8"] = int8_row(Path(tmp) / "ae.xml", clips)
                log("openvino_int8")
            timed_rows(result, len(clips), args.rounds, args.repeats)
    else:
        timed_rows(result, len(clips), args.rounds, args.repeats)
    for name in result["rows"]:
        log(name)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
