"""``python -m lnta.bench --profile``: where the time of one fast training step and one inference batch goes.

``torch.profiler`` records one ``precision=fast`` training step (after ``--repeats`` untimed
warm-up steps) and one inference batch, both at the bench's size. Each op's *self* CPU time (time in
the op itself, not in the ops it calls) is summed per op name; shares are of the summed self time of
the whole step. The ops are also put in groups:

- ``end layers``: the convolutions of the two 1-channel end layers (the first ``Conv3d`` and the last
  ``ConvTranspose3d``), forward and backward: a convolution op with a 5-D operand of one channel
  (the clip, the reconstruction or their gradients) or a 1-channel weight (``Cout x 1 x k^3`` /
  ``Cin x 1 x k^3``);
- ``convs``: every other convolution op;
- ``batchnorm``, ``leaky_relu``: ops named so, forward and backward;
- ``other``: the rest (bf16 casts, the loss, Adam, the PSNR).
"""
from __future__ import annotations

import sys

import torch
from torch.profiler import ProfilerActivity, profile

from lnta.benchmark.trials import eval_call, make_trial, train_call
from lnta.models import ConvAE3D
from lnta.trainer.precision import apply_speed, resolve_speed

GROUPS = ("end layers", "convs", "batchnorm", "leaky_relu", "other")


def _one_channel(shapes) -> bool:
    """True if an operand is 5-D with one channel in dim 1: the clip, the reconstruction, their
    gradients, or a 1-channel weight (``Conv3d``: ``Cout x 1 x k^3``; ``ConvTranspose3d``: ``Cin x 1 x k^3``)."""
    return any(isinstance(s, (list, tuple)) and len(s) == 5 and s[1] == 1 for s in shapes or ())


def op_group(name: str, shapes) -> str:
    """The group (:data:`GROUPS`) of a profiled op from its name and input shapes."""
    lowered = name.lower()
    if "conv" in lowered:
        return "end layers" if _one_channel(shapes) else "convs"
    if "batch_norm" in lowered:
        return "batchnorm"
    if "leaky_relu" in lowered:
        return "leaky_relu"
    return "other"


def summarise(events, top: int) -> dict:
    """Top ops by self CPU time and the group totals from ``profile.key_averages(group_by_input_shape=True)``."""
    by_op: dict[str, float] = {}
    groups = dict.fromkeys(GROUPS, 0.0)
    for e in events:
        ms = e.self_cpu_time_total / 1000
        if ms <= 0:
            continue
        by_op[e.key] = by_op.get(e.key, 0.0) + ms
        groups[op_group(e.key, e.input_shapes)] += ms
    total = sum(by_op.values()) or 1.0
    ops = sorted(by_op.items(), key=lambda kv: -kv[1])[:top]
    return {"self_cpu_ms_total": total,
            "top_ops": [{"op": k, "self_cpu_ms": v, "share": v / total} for k, v in ops],
            "groups": [{"group": g, "self_cpu_ms": v, "share": v / total} for g, v in groups.items()]}


def run_profile(args, top: int = 15) -> dict:
    """Profile one ``fast`` training step and one ``fast`` inference batch at the bench's size."""
    device = torch.device(args.device)
    trial = make_trial("fast", device)
    factory = lambda: ConvAE3D(width=args.width)  # noqa: E731
    torch.manual_seed(0)
    shape = (1, args.frames, args.size, args.size)
    out = {"trainer_precision": trial.speed.trainer_precision, "channels_last": trial.speed.channels_last}
    for kind, batch, make_call in (("train", args.batch, train_call), ("eval", args.eval_batch, eval_call)):
        clips = torch.randint(0, 256, (batch, *shape), dtype=torch.uint8, device=device)
        call, _ = make_call(factory, trial, clips)
        for _ in range(args.repeats):  # warm-up: allocator, oneDNN primitive caches
            call()
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=activities, record_shapes=True) as prof:
            call()
        out[kind] = {"batch": batch, **summarise(prof.key_averages(group_by_input_shape=True), top)}
        print(f"  profiled {kind}", file=sys.stderr, flush=True)
    apply_speed(resolve_speed("exact", device))
    return out


def profile_table(result: dict) -> str:
    """The profile as markdown: per phase, the group shares, then the top ops."""
    lines = [f"profile at {result['batch_size']}x1x{result['clip_len']}x{result['image_size']}x{result['image_size']}, "
             f"width {result['model_width']}, fast = {result['profile']['trainer_precision']}"
             f"{' + channels_last_3d weights' if result['profile']['channels_last'] else ''}; self CPU time"]
    for kind, title in (("train", "training step"), ("eval", "inference batch")):
        p = result["profile"][kind]
        lines += ["", f"{title} (batch {p['batch']}): {p['self_cpu_ms_total']:.4g} ms self CPU in all",
                  "", "| group | self CPU ms | share |", "|---|---|---|"]
        lines += [f"| {g['group']} | {g['self_cpu_ms']:.4g} | {g['share']:.1%} |" for g in p["groups"]]
        lines += ["", "| op | self CPU ms | share |", "|---|---|---|"]
        lines += [f"| {o['op']} | {o['self_cpu_ms']:.4g} | {o['share']:.1%} |" for o in p["top_ops"]]
    return "\n".join(lines)
