"""The LightningModule: the autoencoder and the probabilistic loss switch."""
from __future__ import annotations

from typing import Callable, Sequence

import pytorch_lightning as pl
import torch
from torch import nn

from lnta.anomaly.base import PseudoAnomaly
from lnta.anomaly.switch import assign_types, pseudo_losses
from lnta.data.normalize import to_unit
from lnta.data.sampling import REFERENCE_CENTER
from lnta.scoring import frame_psnr

#: Checkpoint key holding the run's resolved config, so a checkpoint stands alone.
CONFIG_KEY = "lnta_config"


class LNTAModule(pl.LightningModule):
    """Trains an AE on normal clips; with probability p a sample becomes a pseudo anomaly.

    For a pseudo sample the input is the pseudo anomaly and the target the *normal* clip, so
    the AE learns to reconstruct only normality. Per-sample MSEs are averaged with equal weight; a
    model with a ``regularizer()`` method (MemAE) adds its term of the last forward to the loss.
    ``test_step`` returns the PSNR of each clip's scored frame for :class:`~lnta.evaluation.FrameScorer`.
    """

    def __init__(self, model: nn.Module, anomalies: Sequence[PseudoAnomaly] = (),
                 optimizer: Callable | None = None, center: int = REFERENCE_CENTER):
        super().__init__()
        self.model = model
        self.anomalies = nn.ModuleList(anomalies)
        self.optimizer_factory = optimizer
        self.center = center
        self.return_error_maps = False  # set by callbacks that need them (pixel-level AUC)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.model(clips)

    def make_inputs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalise the uint8 batch on its device and apply the loss switch.

        Returns ``(inputs, targets, kinds)``; ``kinds[i]`` is the anomaly index of sample i or -1.
        """
        clips = to_unit(batch["clip"])
        kinds = assign_types(torch.rand(len(clips), device=clips.device), [a.p for a in self.anomalies])
        inputs, targets = clips.clone(), clips.clone()
        for k, anomaly in enumerate(self.anomalies):
            index = torch.nonzero(kinds == k).squeeze(1)
            if len(index):
                pseudo, target = anomaly(clips, batch, index)
                inputs[index], targets[index] = pseudo, pseudo if anomaly.objective == "steal" else target
        return inputs, targets, kinds

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        inputs, targets, kinds = self.make_inputs(batch)
        per_sample = (self.model(inputs).float() - targets).pow(2).flatten(1).mean(1)
        per_sample = pseudo_losses(per_sample, kinds, [a.steal_margin if a.objective == "steal" else None
                                                       for a in self.anomalies])
        loss = per_sample.mean()
        pseudo = kinds >= 0
        n = len(kinds)
        if hasattr(self.model, "regularizer"):  # a model's own loss term of this forward (MemAE: entropy)
            term, values = self.model.regularizer()
            loss = loss + term
            for name, value in values.items():
                self.log(f"train/{name}", value, batch_size=n)
        self.log("train/loss", loss, prog_bar=True, batch_size=n)
        self.log("train/pseudo_fraction", pseudo.float().mean(), batch_size=n)
        if (~pseudo).any():
            self.log("train/loss_normal", per_sample[~pseudo].mean(), batch_size=int((~pseudo).sum()))
        if pseudo.any():
            self.log("train/loss_pseudo", per_sample[pseudo].mean(), batch_size=int(pseudo.sum()))
        for k, anomaly in enumerate(self.anomalies):
            if len(self.anomalies) > 1:
                self.log(f"train/fraction_{anomaly.name}", (kinds == k).float().mean(), batch_size=n)
        return loss

    def test_step(self, batch: dict, batch_idx: int) -> dict:
        clips = to_unit(batch["clip"])
        reconstruction = self.model(clips)
        out = {"psnr": frame_psnr(reconstruction, clips, self.center), "video": batch["video"], "frame": batch["frame"]}
        if self.return_error_maps:  # per-pixel squared error of the scored frame, (B, H, W)
            diff = reconstruction[:, :, self.center].float() - clips[:, :, self.center].float()
            out["error"] = diff.pow(2).mean(1)
        return out

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        config = getattr(self, "lnta_config", None)
        if config is not None:
            checkpoint[CONFIG_KEY] = config

    def configure_optimizers(self):
        factory = self.optimizer_factory or (lambda params: torch.optim.Adam(params, lr=1e-4))
        return factory(self.model.parameters())
