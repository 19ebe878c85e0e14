"""The interface every pseudo-anomaly type implements."""
from __future__ import annotations

import torch
from torch import nn

from lnta.errors import ConfigError
from lnta.anomaly.settings import probability

#: What the AE is taught on a pseudo sample: "lnta" reconstructs the normal clip (the paper);
#: "steal" pushes the reconstruction error of the pseudo input up (-MSE, guarded).
OBJECTIVES = ("lnta", "steal")


class PseudoAnomaly(nn.Module):
    """A pseudo-anomaly type: turns selected normal clips into anomalous inputs.

    Subclasses set ``name`` and implement :meth:`forward`. ``p`` is the probability that a
    training sample becomes this type. Everything runs batched on the training device.
    To add a type, subclass this and point a config file's ``_target_`` at the class.
    ``objective`` is the loss for this type's samples (:data:`OBJECTIVES`); with "steal" the
    loss is ``-min(MSE(AE(X_P), X_P), steal_margin)`` (see :func:`lnta.anomaly.switch.pseudo_losses`).
    """

    name = "pseudo"

    def __init__(self, p: float, objective: str = "lnta", steal_margin: float = 1.0, name: str | None = None):
        super().__init__()
        p = probability("anomaly.p", p)
        if objective not in OBJECTIVES:
            raise ConfigError(f"anomaly.objective={objective!r}: expected one of {', '.join(OBJECTIVES)}")
        if not steal_margin > 0:
            raise ConfigError(f"anomaly.steal_margin={steal_margin}: expected a value > 0")
        self.p, self.objective, self.steal_margin = float(p), objective, float(steal_margin)
        if name:
            self.name = name

    def clip_rule(self):
        """What this type needs of every training item beyond the normal clip: a rule the dataset applies
        (:class:`lnta.data.datasets.TrainClips`), or None (the default: the normal clip is enough)."""
        return None

    def forward(self, clips: torch.Tensor, batch: dict, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(inputs, targets)`` for samples ``index`` of the batch.

        ``clips`` are the batch's normal clips (B, C, T, H, W) in [-1, 1]; ``batch`` is the raw
        batch (for types that need more than the normal clip). The target is what the AE is
        taught to output for the pseudo-anomalous input — normally the normal clip.
        """
        raise NotImplementedError
