"""``python -m lnta.bench``: how fast lnta trains, tests, loads clips and makes pseudo anomalies here.

The measurements live in :mod:`lnta.benchmark.suite`; ``--trials`` (:mod:`lnta.benchmark.trials`: torch.compile,
torch.jit.freeze, channels_last_3d input against exact and fast) and ``--profile`` (:mod:`lnta.benchmark.profile`:
torch.profiler on one fast training step and one inference batch) run instead of the suite, at the same size."""
from __future__ import annotations

import argparse
from pathlib import Path

# torch-free: --help does not import torch (11 s cold)
from lnta.benchmark.names import ALL_TRIALS, LADDER_CALL_S, LADDER_FIRST, LADDER_LAST, parse_trials


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lnta.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/bench.json"), help="JSON output file")
    parser.add_argument("--quick", action="store_true", help="64x64 clips: under a minute on 2 cores")
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda where available, else cpu)")
    parser.add_argument("--size", type=int, help="frame side (default 256, --quick 64)")
    parser.add_argument("--frames", type=int, default=16, help="clip length")
    parser.add_argument("--batch", type=int, default=4, help="training batch")
    parser.add_argument("--eval-batch", type=int, help="fast test batch (default 8, --quick 4; x4 on GPU)")
    parser.add_argument("--width", type=float, default=1.0, help="AE width (1.0: the reference model)")
    parser.add_argument("--repeats", type=int, help="timed calls per figure, their mean (default 3, --quick 2)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (data.num_workers of ped2)")
    parser.add_argument("--loader-batches", type=int, default=20, help="batches per loader timing (times --repeats)")
    parser.add_argument("--matmul-n", type=int,
                        help=f"one matmul side for the peaks (default: the best rate of sides doubled from "
                             f"{LADDER_FIRST} until one call takes over {LADDER_CALL_S:g} s, at most {LADDER_LAST})")
    parser.add_argument("--jpeg-dir", type=Path, help="a folder of >= 16 JPEG frames (e.g. ped2/training/frames/01)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--trials", nargs="?", const="all", metavar="NAMES",
                      help="instead of the suite: the trial rows, all or a comma list of "
                           f"{', '.join(ALL_TRIALS)} (exact rows always run)")
    mode.add_argument("--profile", action="store_true",
                      help="instead of the suite: torch.profiler on one fast training step and one inference "
                           "batch (--repeats warm-up calls before each)")
    parser.add_argument("--top", type=int, default=15, help="--profile: ops listed per phase")
    args = parser.parse_args(argv)
    if args.trials is not None:
        try:
            args.trials = parse_trials(args.trials)
        except ValueError as error:
            parser.error(str(error))
    for key in ("size", "frames", "batch", "eval_batch", "repeats", "top", "matmul_n"):
        value = getattr(args, key)
        if value is not None and value < 1:
            parser.error(f"--{key.replace('_', '-')}={value}: expected a positive integer")
    import torch
    from lnta.trainer.precision import resolve_speed

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    args.size = args.size or (64 if args.quick else 256)
    args.repeats = args.repeats or (2 if args.quick else 3)
    args.eval_batch = args.eval_batch or (4 if args.quick else 8) * resolve_speed("fast", args.device).eval_batch_scale
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)  # first: --help and argument errors answer before torch is imported
    import sys

    from lnta.benchmark.suite import busy_cpu_note, cpu_load, measure, table
    from lnta.io import write_json

    note = busy_cpu_note(*cpu_load())
    if note and args.device == "cpu":
        print(note, file=sys.stderr, flush=True)

    if args.trials or args.profile:
        from lnta.benchmark.suite import measure_trials

        results, text = measure_trials(args)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text(text + "\n")
    else:
        results = measure(args)
        text = table(results)
    write_json(args.out, results)
    print(text)
    print(f"-> {args.out}")
    return results


if __name__ == "__main__":
    main()
