"""``python -m lnta.bench``: how fast lnta trains, tests, loads clips and makes pseudo anomalies here.

Every time is the mean per call of one block of ``--repeats`` calls after two warm-up calls
(:mod:`lnta.benchmark.timing`), on the current device. The
default is the paper's setting (16x256x256 clips, batch 4, the full-width AE); ``--quick`` runs at
64x64 in well under a minute. Writes a JSON file (``--out``) and prints a table. ``exact`` is the
reference's numerics (fp32, default layout); ``fast`` is ``precision=fast`` (lnta/trainer/precision.py).
"""
from __future__ import annotations

import dataclasses
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from lnta.anomaly import SkipFrame
from lnta.benchmark.anomaly import time_pseudo_anomalies
from lnta.benchmark.loader import store_clips_per_s
from lnta.benchmark.names import LADDER_CALL_S, LADDER_FIRST, LADDER_LAST
from lnta.benchmark.timing import seconds_per_call
from lnta.data.io.frames import read_gray, resize_gray
from lnta.data.transforms import to_unit
from lnta.data.ondevice import DeviceFrames, TrainIndices
from lnta.data.sampling import REFERENCE_CENTER, SkipPairs
from lnta.data.io.store import FrameStore
from lnta.data.labels.known import KNOWN
from lnta.trainer.compiled import inference_forward
from lnta.trainer.precision import Speed, apply_speed, autocast, fast_bf16, resolve_speed
from lnta.models import ConvAE3D
from lnta.models.module import per_sample_mse
from lnta.metrics.protocol import frame_psnr

#: UCSD Ped2 training video lengths (the published counts): the store the loaders are measured on, and one paper epoch.
PED2_TRAIN_LENGTHS = tuple(KNOWN["ped2"]["train"]["lengths"])
#: The authors' code (issue #6): seconds per training iteration of 4 clips, tested frames per second.
AUTHORS_S_PER_ITER, AUTHORS_EVAL_FPS = 9.0, 1.15
#: The paper's skips: loaders are measured with skip-frame pairs, the heaviest training item.
SKIPS = (2, 3, 4, 5)


def matmul_peak_gflops(dtype: torch.dtype, device: torch.device, n: int, repeats: int) -> float:
    """Throughput of an n x n x n matmul in ``dtype`` (2 n^3 FLOP per product)."""
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    return 2 * n**3 / seconds_per_call(lambda: a @ b, repeats) / 1e9


def matmul_peak(dtype: torch.dtype, device: torch.device, repeats: int, n: int | None = None,
                rate: Callable[[int], float] | None = None) -> tuple[float, int, list[list[float]]]:
    """The matmul peak of ``dtype`` on ``device``: ``(GFLOP/s, the side that gave it, [[side, GFLOP/s], ...])``.

    A small product does not reach a CPU's fastest path (AMX tiles, every core busy): the side is doubled
    from :data:`LADDER_FIRST` up to :data:`LADDER_LAST` until one call takes over :data:`LADDER_CALL_S`
    seconds (a product that long is past any start-up cost; an emulated bf16, at 0.2-2.5 GFLOP/s, gets there
    at a side of 512 or 1024, before its products take minutes), and the peak is the best rate seen (one side measured while
    another process held the cores does not end the climb). ``n`` pins one side (``--matmul-n``). ``rate``
    (side -> GFLOP/s, default :func:`matmul_peak_gflops`) is the measurement, replaceable in tests."""
    rate = rate or (lambda side: matmul_peak_gflops(dtype, device, side, repeats))
    sides = [n] if n else [LADDER_FIRST * 2**k for k in range(16) if LADDER_FIRST * 2**k <= LADDER_LAST]
    ladder: list[list[float]] = []
    for side in sides:
        gflops = rate(side)
        ladder.append([side, gflops])
        if 2 * side**3 / (gflops * 1e9) > LADDER_CALL_S:
            break
    peak_side, peak = max(ladder, key=lambda row: row[1])
    return peak, int(peak_side), ladder


def clip_gflop(model_factory: Callable[[], torch.nn.Module], frames: int, size: int) -> tuple[float, float]:
    """FLOP of one clip's forward pass and of its training step (forward + backward), counted on meta tensors."""
    model = model_factory().to("meta")
    x = torch.empty(1, 1, frames, size, size, device="meta")
    with FlopCounterMode(display=False) as forward:
        model(x)
    with FlopCounterMode(display=False) as train:
        model(x).sum().backward()
    return forward.get_total_flops() / 1e9, train.get_total_flops() / 1e9


def train_step_seconds(model, clips: torch.Tensor, speed: Speed, repeats: int) -> float:
    """One optimiser step of the reference objective (Adam, per-sample MSE) on a uint8 batch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    device = clips.device

    def step():
        x = to_unit(clips)
        with autocast(speed, device):
            out = model(x)
        loss = per_sample_mse(out, x).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    model.train()
    return seconds_per_call(step, repeats)


def eval_seconds(model, clips: torch.Tensor, speed: Speed, repeats: int) -> tuple[float, float]:
    """Scoring one batch of test clips as ``lnta.eval`` does (the model through
    :func:`~lnta.trainer.compiled.inference_forward`, so compiled where ``speed.inference_compile``):
    normalise, reconstruct, PSNR of the scored frame. Returns (seconds of the first call, which
    compiles where anything compiles; mean seconds per call after it)."""
    device = clips.device
    model.eval()
    forward = inference_forward(speed, model)

    @torch.inference_mode()
    def run():
        x = to_unit(clips)
        with autocast(speed, device):
            out = forward(x)
        return frame_psnr(out.float(), x, REFERENCE_CENTER)

    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0, seconds_per_call(run, repeats)


def random_store(lengths, size: int, seed: int = 0) -> FrameStore:
    """A FrameStore of random frames (gathering speed does not depend on the pixels)."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (sum(lengths), size, size), dtype=np.uint8)
    return FrameStore([f"{i + 1:02d}" for i in range(len(lengths))], list(lengths), frames)


def ondevice_clips_per_s(store: FrameStore, frames: int, batch: int, device: torch.device, batches: int,
                         repeats: int, skips=SKIPS) -> float:
    """Training items per second as ``data.on_device=true`` makes them: index batches from the
    DataLoader, clip and skip-frame pair gathered on ``device``."""
    device_frames = DeviceFrames(store, device)
    loader = DataLoader(TrainIndices(store, frames, [SkipPairs(tuple(skips))]), batch_size=batch, shuffle=True,
                        drop_last=True)

    def take():
        iterator = iter(loader)
        for _ in range(batches):
            device_frames.gather_batch({k: v.to(device) for k, v in next(iterator).items()})

    return batches * batch / seconds_per_call(take, repeats)


def anomaly_ms(store: FrameStore, frames: int, batch: int, size: int, device: torch.device,
               repeats: int) -> tuple[float, float]:
    """Milliseconds to make one batch of patch / of skip-frame pseudo anomalies on ``device``.

    Patch: masks, intruders and blend for every sample (SmoothMixS, synthetic intruders; the
    mean of :func:`lnta.benchmark.anomaly.time_pseudo_anomalies`). Skip: gathering the skip and target clips
    of every sample on the device from index batches, then the anomaly's forward.
    """
    device_frames = DeviceFrames(store, device)
    clips = to_unit(torch.randint(0, 256, (batch, 1, frames, size, size), dtype=torch.uint8, device=device))
    index = torch.arange(batch, device=device)
    patch_s = time_pseudo_anomalies(batch_size=batch, frames=frames, size=size, device=str(device),
                                    repeats=repeats)["seconds"]
    skip = SkipFrame(p=1.0, skips=SKIPS)
    indices = next(iter(DataLoader(TrainIndices(store, frames, [skip.clip_rule()]), batch_size=batch, shuffle=True)))
    indices = {k: v.to(device) for k, v in indices.items() if k != "clip_index"}
    skip_s = seconds_per_call(lambda: skip(clips, device_frames.gather_batch(indices), index), repeats)
    return 1000 * patch_s, 1000 * skip_s


def jpeg_ms_per_clip(frames: int, size: int, jpeg_dir: Path | None, repeats: int) -> float:
    """The reference's data path: decode ``frames`` JPEG files, grayscale, resize — per clip."""
    with tempfile.TemporaryDirectory() as tmp:
        if jpeg_dir is None:  # Ped2-sized (360x240) JPEGs of smooth noise
            rng = np.random.default_rng(0)
            jpeg_dir = Path(tmp)
            for i in range(frames):
                image = np.kron(rng.integers(0, 256, (30, 45)), np.ones((8, 8))).astype(np.uint8)
                Image.fromarray(image).convert("RGB").save(jpeg_dir / f"{i:03d}.jpg", quality=95)
        files = sorted(Path(jpeg_dir).glob("*.jpg"))[:frames]
        if len(files) < frames:
            raise SystemExit(f"--jpeg-dir {jpeg_dir}: needs at least {frames} .jpg frames")
        decode = lambda: resize_gray(np.stack([read_gray(f) for f in files]), size)  # noqa: E731
        return 1000 * seconds_per_call(decode, repeats)


#: The bench warns when the 1-minute load average before it starts exceeds this share of the cores.
BUSY_SHARE = 0.25


def cpu_load() -> tuple[float | None, int]:
    """``(1-minute load average, CPUs this process may run on)``; the load is None where the OS reports none."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return load, cores


def busy_cpu_note(load_1m: float | None, cores: int) -> str | None:
    """A warning when other processes already load the CPU (``load_1m``, the 1-minute load average, over
    :data:`BUSY_SHARE` of ``cores``): the figures will be lower than an idle machine's; else (or with no
    load reported) None."""
    if load_1m is None or load_1m <= BUSY_SHARE * max(cores, 1):
        return None
    return (f"warning: the CPU is busy before the bench starts (1-minute load average {load_1m:.2f} on {cores} "
            "cores): its times will be slower than an idle machine's; compare figures of one run (ratios), or "
            "rerun on an idle machine")


def machine(device: torch.device) -> dict:
    import pytorch_lightning

    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"device": str(device), "cpu": cpu, "cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "fast_bf16": fast_bf16(device), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "python": platform.python_version(), "torch": torch.__version__,
            "lightning": pytorch_lightning.__version__, "platform": platform.platform(),
            "load_average_1m_at_start": cpu_load()[0]}


def peaks_and_flop(args, device: torch.device) -> dict:
    """The matmul peaks (fp32 and bf16, GFLOP/s, :func:`matmul_peak`: the ladder of sides, or ``--matmul-n``)
    and the FLOP of one clip (forward, training step) at the bench's size: the yardsticks of the suite and the
    trials. The same ladder runs with ``--quick``, so fractions of the peak compare across sizes and CPUs."""
    fwd, train = clip_gflop(lambda: ConvAE3D(width=args.width), args.frames, args.size)
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        peak, side, ladder = matmul_peak(dtype, device, args.repeats, args.matmul_n)
        out.update({f"peak_gflops_{name}": peak, f"matmul_n_{name}": side, f"matmul_ladder_{name}": ladder})
    return {**out, "gflop_per_clip_fwd": fwd, "gflop_per_clip_train": train}


def measure(args) -> dict:
    device = torch.device(args.device)
    exact, fast = resolve_speed("exact", device), resolve_speed("fast", device)
    size, frames, batch, reps = args.size, args.frames, args.batch, args.repeats
    factory = lambda: ConvAE3D(width=args.width)  # noqa: E731
    res = {"image_size": size, "clip_len": frames, "batch_size": batch, "eval_batch_size": args.eval_batch,
           "model_width": args.width, "repeats": reps, "quick": args.quick, "loader_skips": list(SKIPS),
           "fast_settings": dataclasses.asdict(fast), "machine": machine(device)}
    log = lambda key: print(f"  {key} = {res[key]:.4g}", file=sys.stderr, flush=True)  # noqa: E731
    res.update(peaks_and_flop(args, device))
    for key in ("peak_gflops_fp32", "peak_gflops_bf16"):
        log(key)

    torch.manual_seed(0)
    clips = torch.randint(0, 256, (batch, 1, frames, size, size), dtype=torch.uint8, device=device)
    test_clips = torch.randint(0, 256, (args.eval_batch, 1, frames, size, size), dtype=torch.uint8, device=device)
    for name, speed, eval_clips in (("exact", exact, clips[:1]), ("fast", fast, test_clips)):
        model = apply_speed(speed, factory().to(device))
        step = train_step_seconds(model, clips, speed, reps)
        res[f"train_clips_per_s_{name}"] = batch / step
        res[f"train_step_ms_{name}"] = 1000 * step
        log(f"train_clips_per_s_{name}")
        res[f"eval_first_call_s_{name}"], seconds = eval_seconds(model, eval_clips, speed, reps)
        res[f"eval_frames_per_s_{name}"] = len(eval_clips) / seconds
        log(f"eval_frames_per_s_{name}")
        del model
    apply_speed(exact)  # leave the process flags as found

    store = random_store(PED2_TRAIN_LENGTHS, size)
    res["loader_workers"] = args.workers
    res["loader_clips_per_s"] = store_clips_per_s(store, frames, batch, args.workers, args.loader_batches, reps,
                                                  skips=SKIPS)
    log("loader_clips_per_s")
    res["loader_clips_per_s_on_device"] = ondevice_clips_per_s(store, frames, batch, device,
                                                               args.loader_batches, reps)
    res["anomaly_ms_patch"], res["anomaly_ms_skip"] = anomaly_ms(store, frames, batch, size, device, reps)
    res["jpeg_ms_per_clip_reference"] = jpeg_ms_per_clip(frames, size, args.jpeg_dir, reps)
    log("jpeg_ms_per_clip_reference")
    res.update(derived(res))
    return res


def measure_trials(args) -> tuple[dict, str]:
    """``--trials`` (:mod:`lnta.benchmark.trials`) or ``--profile`` (:mod:`lnta.benchmark.profile`) at the
    bench's size: the settings, the machine, the matmul peaks and FLOP per clip (trials), and the
    rows; returns the JSON result and its markdown table."""
    from lnta.benchmark.profile import profile_table, run_profile
    from lnta.benchmark.trials import run_trials, trials_table

    device = torch.device(args.device)
    res = {"image_size": args.size, "clip_len": args.frames, "batch_size": args.batch,
           "eval_batch_size": args.eval_batch, "model_width": args.width, "repeats": args.repeats,
           "machine": machine(device)}
    if args.profile:
        res["profile"] = run_profile(args, args.top)
        return res, profile_table(res)
    res.update(peaks_and_flop(args, device))
    peaks = {"fp32": res["peak_gflops_fp32"], "bf16": res["peak_gflops_bf16"]}
    res["trials"] = run_trials(args, args.trials, peaks,
                               {"train": res["gflop_per_clip_train"], "eval": res["gflop_per_clip_fwd"]})
    return res, trials_table(res)


def derived(r: dict) -> dict:
    """Ratios, the Ped2 epoch estimate and the issue's targets from the measured figures."""
    fast_peak = r["peak_gflops_bf16"] if r["fast_settings"]["trainer_precision"] == "bf16-mixed" else r["peak_gflops_fp32"]
    achieved = r["gflop_per_clip_train"] * r["train_clips_per_s_fast"]
    clips = sum(n - r["clip_len"] + 1 for n in PED2_TRAIN_LENGTHS)
    steps = clips // r["batch_size"]
    # Reference way: fp32 default layout, and 16 JPEG decodes per clip on the same cores (times add).
    epoch_reference = clips / r["train_clips_per_s_exact"] + clips * r["jpeg_ms_per_clip_reference"] / 1000
    # lnta: fast step + the pseudo anomalies of each batch + clips gathered on the device.
    anomaly = max(r["anomaly_ms_patch"], r["anomaly_ms_skip"])
    epoch_fast = steps * (r["train_step_ms_fast"] + anomaly) / 1000 + clips / r["loader_clips_per_s_on_device"]
    cores = r["machine"]["cpu_cores"] or 1
    out = {
        "train_achieved_gflops_fast": achieved,
        "train_fraction_of_bf16_peak": achieved / r["peak_gflops_bf16"],
        "train_fraction_of_fast_dtype_peak": achieved / fast_peak,
        "train_fast_over_exact": r["train_clips_per_s_fast"] / r["train_clips_per_s_exact"],
        "eval_fast_over_exact": r["eval_frames_per_s_fast"] / r["eval_frames_per_s_exact"],
        "anomaly_share_of_step": anomaly / r["train_step_ms_fast"],
        "loader_over_training": r["loader_clips_per_s"] / r["train_clips_per_s_fast"],
        "loader_on_device_over_training": r["loader_clips_per_s_on_device"] / r["train_clips_per_s_fast"],
        "ped2_epoch_clips": clips,
        "ped2_epoch_s_reference_est": epoch_reference,
        "ped2_epoch_s_fast_est": epoch_fast,
        "ped2_epoch_speedup_est": epoch_reference / epoch_fast,
        "s_per_iter_fast": r["train_step_ms_fast"] / 1000 * 4 / r["batch_size"],
        "eval_clips_per_s_per_2_cores": r["eval_frames_per_s_fast"] * 2 / cores,
    }
    paper = r["image_size"] == 256 and r["clip_len"] == 16 and r["model_width"] == 1.0
    checks = {
        "fast_train_ge_45pct_bf16_peak": out["train_fraction_of_bf16_peak"] >= 0.45,
        "fast_train_ge_45pct_own_dtype_peak": out["train_fraction_of_fast_dtype_peak"] >= 0.45,
        "fast_train_ge_2x_exact": out["train_fast_over_exact"] >= 2,
        "anomaly_le_2pct_of_step": out["anomaly_share_of_step"] <= 0.02,
        "loader_ge_10x_training": out["loader_over_training"] >= 10,
        "eval_ge_3_clips_per_s_per_2_cores": out["eval_clips_per_s_per_2_cores"] >= 3,
        "ped2_epoch_ge_3x_reference": out["ped2_epoch_speedup_est"] >= 3,
        "le_3s_per_iteration": out["s_per_iter_fast"] <= 3.0,
        "eval_ge_3p5_frames_per_s": r["eval_frames_per_s_fast"] >= 3.5,
    }
    out["targets"] = {k: bool(v) for k, v in checks.items()} if paper else "not at the paper's 16x256x256 size"
    out["vs_authors"] = {"authors_s_per_iter": AUTHORS_S_PER_ITER, "authors_eval_fps": AUTHORS_EVAL_FPS,
                         "note": "authors' figures are from another machine (issue #6)"}
    return out


def table(r: dict) -> str:
    """The measured figures as a two-column text table."""
    m = r["machine"]
    lines = [f"lnta.bench on {m['gpu'] or m['cpu']} ({m['cpu_cores']} cores, {m['torch_threads']} threads, "
             f"{m['cpu_capability']}), torch {m['torch']}",
             f"clips {r['batch_size']}x1x{r['clip_len']}x{r['image_size']}x{r['image_size']}, "
             f"width {r['model_width']}, fast = {r['fast_settings']['trainer_precision']}"
             f"{' + channels_last_3d' if r['fast_settings']['channels_last'] else ''}, median of {r['repeats']}"]
    for key, value in r.items():
        if isinstance(value, float):
            lines.append(f"  {key:<36} {value:>12.4g}")
    if isinstance(r["targets"], dict):
        lines += [f"  target {k:<36} {'met' if ok else 'NOT met'}" for k, ok in r["targets"].items()]
    return "\n".join(lines)
