"""The interface every pseudo-anomaly type implements."""
from __future__ import annotations

import torch
from torch import nn

from lnta.validate import probability


class PseudoAnomaly(nn.Module):
    """A pseudo-anomaly type: turns selected normal clips into anomalous inputs.

    Subclasses set ``name`` and implement :meth:`forward`. ``p`` is the probability that a
    training sample becomes this type. Everything runs batched on the training device.
    To add a type, subclass this and point a config file's ``_target_`` at the class.
    """

    name = "pseudo"

    def __init__(self, p: float):
        super().__init__()
        self.p = probability("anomaly.p", p)

    def forward(self, clips: torch.Tensor, batch: dict, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(inputs, targets)`` for samples ``index`` of the batch.

        ``clips`` are the batch's normal clips (B, C, T, H, W) in [-1, 1]; ``batch`` is the raw
        batch (for types that need more than the normal clip). The target is what the AE is
        taught to output for the pseudo-anomalous input — normally the normal clip.
        """
        raise NotImplementedError
