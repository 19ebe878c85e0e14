"""The probabilistic loss switch: which samples of a batch become which pseudo anomaly."""
from __future__ import annotations

from typing import Sequence

import torch


def assign_types(u: torch.Tensor, probs: Sequence[float]) -> torch.Tensor:
    """Type index per sample from uniform draws ``u`` in [0, 1); -1 means a normal sample.

    The enabled types occupy disjoint consecutive intervals of [0, 1): type k is chosen iff
    ``sum(probs[:k]) <= u < sum(probs[:k + 1])``, so a sample gets at most one type, and with a
    single type a sample is pseudo-anomalous iff ``u < p`` (the reference rule).
    """
    kinds = torch.full_like(u, -1, dtype=torch.long)
    low = 0.0
    for k, p in enumerate(probs):
        kinds[(u >= low) & (u < low + p)] = k
        low += p
    return kinds


def pseudo_losses(per_sample: torch.Tensor, kinds: torch.Tensor, steal_margins: Sequence[float | None]) -> torch.Tensor:
    """Per-sample losses after each type's objective; ``steal_margins[k]`` is None for the paper's loss.

    ``per_sample`` is the MSE against each sample's target (for a STEAL type the target is its own
    pseudo input). A STEAL sample's loss is ``-min(MSE, margin)``: the guard bounds the loss below
    by ``-margin`` and stops pushing once the reconstruction error of the pseudo input exceeds it.
    """
    out = per_sample
    for k, margin in enumerate(steal_margins):
        if margin is not None:
            out = torch.where(kinds == k, -per_sample.clamp(max=margin), out)
    return out
