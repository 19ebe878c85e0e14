"""Does the thread count change lnta's training numbers on CPU? (Why a re-run is not bit-identical.)

Trains the full-width reference AE (5,980,801 parameters) for a few Adam steps on the same random
64x64 batches, twice with 1 thread and twice with 2 threads, each in a fresh process, and prints the
largest absolute difference of the weights between runs and the last loss of each.

    python experiments/reference_cpu64/threads_check.py [--steps 5]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def train(steps: int, out: str) -> None:
    import torch

    from lnta.models import ConvAE3D
    from lnta.models.module import per_sample_mse

    torch.manual_seed(0)
    model = ConvAE3D(width=1.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    batches = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.rand(4, 1, 16, 64, 64, generator=batches) * 2 - 1
        loss = per_sample_mse(model(x), x).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.save({"state": model.state_dict(), "loss": loss.item()}, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--_train", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._train:
        return train(int(args._train[0]), args._train[1])
    import torch

    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for threads, copy in ((1, "a"), (1, "b"), (2, "a"), (2, "b")):
            out = str(Path(tmp) / f"{threads}{copy}.pt")
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            subprocess.run([sys.executable, __file__, "--_train", str(args.steps), out], env=env, check=True)
            runs[f"{threads} thread{'s' * (threads > 1)}, run {copy}"] = torch.load(out)
    names = list(runs)

    def diff(a, b):
        return max((runs[a]["state"][k].float() - runs[b]["state"][k].float()).abs().max().item()
                   for k in runs[a]["state"])

    print(f"| compared after {args.steps} Adam steps | max abs weight diff | last loss |")
    print("|---|---|---|")
    for a, b in ((names[0], names[1]), (names[2], names[3]), (names[0], names[2])):
        print(f"| {a} vs {b} | {diff(a, b):.3g} | {runs[a]['loss']!r} vs {runs[b]['loss']!r} |")


if __name__ == "__main__":
    main()
