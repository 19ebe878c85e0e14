"""Launcher that times a training or test run from the inside, the same way for both codes.

Runs under either Python (the authors' venv or lnta's); it imports nothing of lnta at the top.

    python timed.py --record R.json [--stop-after N] authors --clone VIEW --seed 0 train.py [their args]
    python timed.py --record R.json lnta lnta.train [overrides]
    python timed.py --record R.json lnta lnta.eval [overrides]
    python timed.py init-authors --clone VIEW --seed 0 --out FILE.pth

- Every optimizer step is timestamped by a global post-step hook
  (``torch.optim.optimizer.register_optimizer_step_post_hook``): the time between two steps is one
  whole iteration, data loading and pseudo-anomaly making included (Lightning's automatic
  optimisation runs forward and backward inside ``optimizer.step``; the authors' loop does the same
  work between two steps). ``--stop-after N`` ends the run cleanly (``SystemExit(0)``) after step N
  (the authors' script has no step limit; lnta uses ``trainer.max_steps``).
- For ``lnta ... lnta.eval``, ``pytorch_lightning.Trainer.test`` is timed (test-split decoding, the
  test loop and the metrics).
- ``authors`` runs their unmodified script through ``experiments/reference_check/authors_env.py``
  (the CPU environment: ``.cuda()`` no-ops, torchvision stand-ins, seeding).
- ``init-authors`` writes a freshly initialised model of their code (seeded) as
  ``{'model_statedict': ...}``, a format their ``evaluate.py`` and ``python -m lnta.convert`` read:
  both evaluations then test the same weights.

The record (JSON, rewritten after every step): ``start`` (monotonic seconds at launch), ``steps``
(monotonic seconds after each optimizer step), ``test_s`` (the timed ``Trainer.test`` calls) and
``argv``.
"""
from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import time
from pathlib import Path

from torch.optim.optimizer import register_optimizer_step_post_hook

HERE = Path(__file__).resolve().parent
AUTHORS_ENV = HERE.parent / "reference_check" / "authors_env.py"


class Recorder:
    def __init__(self, path: Path, stop_after: int | None):
        self.path, self.stop_after = path, stop_after
        self.data = {"start": time.monotonic(), "steps": [], "test_s": [], "argv": sys.argv[1:]}
        self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        os.replace(tmp, self.path)

    def step_hook(self, optimizer, args, kwargs) -> None:
        self.data["steps"].append(time.monotonic())
        self.save()
        if self.stop_after is not None and len(self.data["steps"]) >= self.stop_after:
            raise SystemExit(0)

    def time_test(self) -> None:
        import pytorch_lightning as pl

        test = pl.Trainer.test
        recorder = self

        def timed_test(self, *args, **kwargs):
            t0 = time.monotonic()
            try:
                return test(self, *args, **kwargs)
            finally:
                recorder.data["test_s"].append(time.monotonic() - t0)
                recorder.save()

        pl.Trainer.test = timed_test


def init_authors(clone: Path, seed: int, out: Path) -> None:
    sys.path.insert(0, str(AUTHORS_ENV.parent))
    import authors_env
    import torch
    from torch import nn

    authors_env.import_from(clone)
    from model.autoencoder import convAE  # their model class, from their clone

    authors_env.seed_everything(seed)
    model = nn.DataParallel(convAE())  # their scripts wrap it so; the keys get 'module.'
    torch.save({"model_statedict": model.state_dict()}, out)


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["init-authors"]:
        parser = argparse.ArgumentParser(prog="timed.py init-authors")
        parser.add_argument("--clone", type=Path, required=True)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--out", type=Path, required=True)
        args = parser.parse_args(argv[1:])
        init_authors(args.clone, args.seed, args.out)
        return
    parser = argparse.ArgumentParser(prog="timed.py", description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--record", type=Path, required=True, help="the JSON record to write")
    parser.add_argument("--stop-after", type=int, help="exit cleanly after this many optimizer steps")
    parser.add_argument("side", choices=("authors", "lnta"), help="everything after it goes to that side")
    cut = next((i + 1 for i, a in enumerate(argv) if a in ("authors", "lnta")), len(argv))
    args, rest = parser.parse_args(argv[:cut]), argv[cut:]
    recorder = Recorder(args.record, args.stop_after)
    register_optimizer_step_post_hook(recorder.step_hook)
    if args.side == "authors":
        sys.argv = [str(AUTHORS_ENV), *rest]
        runpy.run_path(str(AUTHORS_ENV), run_name="__main__")
    else:
        module, *overrides = rest
        sys.path.insert(0, str(HERE.parents[1]))  # this checkout's lnta, as ``python -m`` from its root
        if module.endswith(".eval"):
            recorder.time_test()
        sys.argv = [module, *overrides]
        runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
