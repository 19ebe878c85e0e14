"""``python -m lnta.bench --trials``: what the ecosystem offers for this model, one row per trial.

Every trial starts from the same initial weights (seed 0) and the same uint8 batch, so its first
output can be compared with the ``exact`` row's (max |diff| of the reconstruction, max |diff| of
the scored frame's PSNR in dB). Times use the one harness, :func:`lnta.benchmark.timing.seconds_per_call`,
after a first call timed on its own (``first_call_s``: for ``compile`` the compilation, for
``jit_freeze*`` the first run of the frozen graph; ``prepare_s`` is tracing and freezing).

Training rows (batch ``--batch``, an Adam step of the per-sample MSE, as :func:`lnta.benchmark.suite.train_step_seconds`):

- ``exact``: fp32, default layout (``precision=exact``);
- ``fast``: ``precision=fast`` (bf16 autocast where native, ``channels_last_3d`` weights);
- ``fast+compile``: ``fast`` with ``torch.compile(model)`` (Inductor, default mode);
- ``fast+cl_input``: ``fast`` with the input also in ``channels_last_3d``.

Inference rows (batch ``--eval-batch``, ``inference_mode``, PSNR of the scored frame, as
:func:`lnta.benchmark.suite.eval_seconds`) — the same four, plus

- ``fast+jit_freeze``: ``torch.jit.trace`` under the ``fast`` autocast, ``torch.jit.freeze`` (folds
  BatchNorm into the convolutions, bf16 weights as constants) and ``torch.jit.optimize_for_inference``;
- ``fp32+jit_freeze``: the same in fp32 (oneDNN convolutions through ``optimize_for_inference``);
- ``fast+compile_freezing``: ``fast+compile`` with Inductor's freezing on (``TORCHINDUCTOR_FREEZING=1``:
  weights as constants, BatchNorm folded into the convolutions) — the non-deprecated successor of
  ``jit.freeze`` (``torch.jit.trace`` warns that it is deprecated in favour of ``torch.compile``),
  through :class:`lnta.trainer.compiled.FrozenForward`, the code ``inference_compile`` runs.

Each row: clips/s (training) or frames/s (inference: one scored frame per clip), its ratio to
``exact``, the achieved GFLOP/s (FLOP counted by :func:`lnta.benchmark.suite.clip_gflop`) and its
fraction of the measured matmul peak of the row's dtype (bf16 where autocast is on, else fp32).
"""
from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, replace
from typing import Callable

import torch

from lnta.benchmark.timing import seconds_per_call
from lnta.data.sampling import REFERENCE_CENTER
from lnta.data.transforms import to_unit
from lnta.metrics.protocol import frame_psnr
from lnta.models import ConvAE3D
from lnta.models.module import per_sample_mse
from lnta.trainer.compiled import FrozenForward
from lnta.trainer.precision import Speed, apply_speed, autocast, resolve_speed
from lnta.benchmark.names import ALL_TRIALS, EVAL_TRIALS, TRAIN_TRIALS, parse_trials  # noqa: F401 - re-exported

@dataclass(frozen=True)
class Trial:
    """How one row runs: the precision settings, and what is done to the model and the input."""

    name: str
    speed: Speed
    compile: bool = False
    cl_input: bool = False
    freeze: bool = False
    inductor_freezing: bool = False

    @property
    def bf16(self) -> bool:
        return self.speed.trainer_precision == "bf16-mixed"


def make_trial(name: str, device: torch.device) -> Trial:
    """The :class:`Trial` of a row name (without its ``train:``/``eval:`` prefix)."""
    exact, fast = resolve_speed("exact", device), resolve_speed("fast", device)
    if name == "fp32+jit_freeze":  # fast's layout, fp32
        return Trial(name, replace(fast, trainer_precision="32-true"), freeze=True)
    base, _, extra = name.partition("+")
    speed = exact if base == "exact" else fast
    return Trial(name, speed, compile=extra in ("compile", "compile_freezing"), cl_input=extra == "cl_input",
                 freeze=extra == "jit_freeze", inductor_freezing=extra == "compile_freezing")


def _input(clips: torch.Tensor, trial: Trial) -> torch.Tensor:
    x = to_unit(clips)
    return x.contiguous(memory_format=torch.channels_last_3d) if trial.cl_input else x


@contextlib.contextmanager
def _jit_autocast_recorded():
    """Tracing under autocast records the casts as graph ops (the JIT's own autocast pass off)."""
    previous = torch._C._jit_set_autocast_mode(False)
    try:
        yield
    finally:
        torch._C._jit_set_autocast_mode(previous)


def _fresh_model(factory: Callable[[], torch.nn.Module], trial: Trial, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    return apply_speed(trial.speed, factory().to(device))


def train_call(factory, trial: Trial, clips: torch.Tensor) -> tuple[Callable[[], torch.Tensor], float]:
    """A training row's call (one Adam step; returns the reconstruction) on a fresh model, and the
    seconds its preparation took (none for training)."""
    device = clips.device
    model = _fresh_model(factory, trial, device).train()
    forward = torch.compile(model) if trial.compile else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        x = _input(clips, trial)
        with autocast(trial.speed, device):
            out = forward(x)
        loss = per_sample_mse(out, x).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return out.detach()

    return step, 0.0


def eval_call(factory, trial: Trial, clips: torch.Tensor) -> tuple[Callable[[], torch.Tensor], float]:
    """An inference row's call (reconstruct, PSNR of the scored frame; returns the reconstruction) on a
    fresh model, and the seconds its preparation took (tracing and freezing for ``*jit_freeze``)."""
    device = clips.device
    model = _fresh_model(factory, trial, device).eval()
    prepare_s = 0.0
    if trial.freeze:
        t0 = time.perf_counter()
        with torch.no_grad(), _jit_autocast_recorded(), autocast(trial.speed, device):
            traced = torch.jit.trace(model, _input(clips, trial), check_trace=False)
            model = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
        prepare_s = time.perf_counter() - t0
    elif trial.inductor_freezing:  # what precision=fast adopted for testing (lnta.trainer.compiled)
        model = FrozenForward(model)
    elif trial.compile:
        model = torch.compile(model)

    @torch.inference_mode()
    def run():
        x = _input(clips, trial)
        with autocast(trial.speed, device):
            out = model(x)
        frame_psnr(out.float(), x, REFERENCE_CENTER)
        return out

    return run, prepare_s


def time_trial(call: Callable[[], torch.Tensor], batch: int, repeats: int) -> tuple[dict, torch.Tensor]:
    """The first call timed on its own (it compiles where anything compiles), then the harness's
    mean; returns the figures and the first call's reconstruction in fp32."""
    t0 = time.perf_counter()
    first = call().float()
    first_s = time.perf_counter() - t0
    seconds = seconds_per_call(call, repeats)
    return {"first_call_s": first_s, "seconds_per_call": seconds, "per_s": batch / seconds}, first


#: The numerics of a row against ``exact`` (None where the exact row failed).
NUMERICS = ("max_abs_diff", "max_psnr_diff_db", "psnr_db_mean")


def numerics(out: torch.Tensor, reference: torch.Tensor, clips: torch.Tensor) -> dict:
    """max |out - reference| and max |PSNR(out) - PSNR(reference)| (dB) of the scored frame."""
    x = to_unit(clips)
    psnr = frame_psnr(out, x, REFERENCE_CENTER)
    psnr_ref = frame_psnr(reference, x, REFERENCE_CENTER)
    return {"max_abs_diff": float((out - reference).abs().max()),
            "max_psnr_diff_db": float((psnr - psnr_ref).abs().max()),
            "psnr_db_mean": float(psnr.mean())}


def run_trials(args, names: list[str], peaks: dict, gflop: dict) -> list[dict]:
    """Run the trial rows ``names`` (see :func:`parse_trials`) at the bench's size; ``peaks``:
    ``{"fp32": GFLOP/s, "bf16": GFLOP/s}``, ``gflop``: ``{"train": per clip, "eval": per clip (forward)}``."""
    device = torch.device(args.device)
    factory = lambda: ConvAE3D(width=args.width)  # noqa: E731
    torch.manual_seed(0)
    shape = (1, args.frames, args.size, args.size)
    batches = {"train": torch.randint(0, 256, (args.batch, *shape), dtype=torch.uint8, device=device),
               "eval": torch.randint(0, 256, (args.eval_batch, *shape), dtype=torch.uint8, device=device)}
    rows, references, base = [], {}, {}
    for full in names:
        kind, name = full.split(":", 1)
        trial = make_trial(name, device)
        clips = batches[kind]
        try:
            call, prepare_s = (train_call if kind == "train" else eval_call)(factory, trial, clips)
            figures, out = time_trial(call, len(clips), args.repeats)
            figures["prepare_s"] = prepare_s
        except Exception as error:  # a trial the backend cannot run is a row with its reason, not a crash
            rows.append({"kind": kind, "trial": name, "batch": len(clips), "error": f"{type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''}"[:300]})
            print(f"  {full}: failed ({rows[-1]['error']})", file=sys.stderr, flush=True)
            continue
        finally:
            apply_speed(resolve_speed("exact", device))  # leave the process flags as found
            if trial.compile:
                torch._dynamo.reset()  # drop the compiled graphs of this row's model
        if name == "exact":
            references[kind], base[kind] = out, figures["per_s"]
        dtype = "bf16" if trial.bf16 else "fp32"
        achieved = gflop[kind] * figures["per_s"]
        row = {"kind": kind, "trial": name, "batch": len(clips), "dtype": dtype, **figures,
               "unit": "clips/s" if kind == "train" else "frames/s",
               "ratio_to_exact": figures["per_s"] / base[kind] if kind in base else None,
               "achieved_gflops": achieved, "fraction_of_peak": achieved / peaks[dtype],
               **(numerics(out, references[kind], clips) if kind in references else dict.fromkeys(NUMERICS))}
        rows.append(row)
        print(f"  {full}: {row['per_s']:.4g} {row['unit']}, first call {row['first_call_s']:.3g} s",
              file=sys.stderr, flush=True)
    return rows


def trials_table(result: dict) -> str:
    """The trial rows as a markdown table (one line per row; failed rows give their reason)."""
    lines = [f"trials at {result['batch_size']}x1x{result['clip_len']}x{result['image_size']}x{result['image_size']} "
             f"(inference batch {result['eval_batch_size']}), width {result['model_width']}, "
             f"mean of {result['repeats']} after 2 warm-up; peaks fp32 {result['peak_gflops_fp32']:.4g}, "
             f"bf16 {result['peak_gflops_bf16']:.4g} GFLOP/s",
             "", "| kind | trial | dtype | per s | ratio to exact | GFLOP/s | of peak | first call s | prepare s "
             "| max abs diff | max PSNR diff dB |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["trials"]:
        if "error" in r:
            lines.append(f"| {r['kind']} | {r['trial']} | - | failed: {r['error']} | | | | | | | |")
            continue
        ratio, diff, psnr = (f"{r[k]:.3g}" if r[k] is not None else "-"
                             for k in ("ratio_to_exact", "max_abs_diff", "max_psnr_diff_db"))
        lines.append(f"| {r['kind']} | {r['trial']} | {r['dtype']} | {r['per_s']:.4g} {r['unit']} | {ratio} "
                     f"| {r['achieved_gflops']:.4g} | {r['fraction_of_peak']:.1%} | {r['first_call_s']:.3g} "
                     f"| {r['prepare_s']:.3g} | {diff} | {psnr} |")
    return "\n".join(lines)
