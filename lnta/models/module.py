"""The LightningModule: the autoencoder and the probabilistic loss switch."""
from __future__ import annotations

from typing import Callable, Sequence

import pytorch_lightning as pl
import torch
from torch import nn

from lnta.anomaly.base import PseudoAnomaly
from lnta.anomaly.switch import assign_types, pseudo_losses
from lnta.data.transforms import to_unit
from lnta.data.sampling import REFERENCE_CENTER
from lnta.errors import ConfigError
from lnta.metrics.protocol import score_clips

#: Checkpoint key holding the run's resolved config, so a checkpoint stands alone.
CONFIG_KEY = "lnta_config"


def per_sample_mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B,) mean squared error of each sample over all its elements, computed in fp32."""
    return (output.float() - target).pow(2).flatten(1).mean(1)


class LNTAModule(pl.LightningModule):
    """Trains an AE on normal clips; with probability p a sample becomes a pseudo anomaly.

    For a pseudo sample the input is the pseudo anomaly and the target the *normal* clip, so
    the AE learns to reconstruct only normality. Per-sample MSEs are averaged with equal weight; a
    model with a ``regularizer()`` method (MemAE) adds its term of the last forward to the loss.

    ``test_step`` returns, per clip, :func:`~lnta.metrics.protocol.score_clips` of its scored frame
    ``center`` (``psnr``; with ``error_maps`` also ``error``, ``input``, ``reconstruction``), with the
    batch's ``video``, ``frame`` and ``label``, for the evaluator's callbacks (:mod:`lnta.metrics.evaluate`).

    Built by :func:`lnta.trainer.build.build_module`. ``optimizer``: a factory ``params ->
    torch.optim.Optimizer`` (the ``optimizer`` config with ``_partial_: true``); required to train.
    ``config``: the run's resolved config as plain containers, stored in every checkpoint. ``test_forward``:
    the callable ``test_step`` reconstructs with (a :class:`~lnta.trainer.compiled.FrozenForward` of ``model``
    from :func:`lnta.trainer.compiled.inference_forward`), never a module; None (the default) uses ``model``.
    """

    def __init__(self, model: nn.Module, anomalies: Sequence[PseudoAnomaly] = (),
                 optimizer: Callable | None = None, center: int = REFERENCE_CENTER, error_maps: bool = False,
                 config: dict | None = None, test_forward: Callable[[torch.Tensor], torch.Tensor] | None = None):
        super().__init__()
        self.model = model
        self.anomalies = nn.ModuleList(anomalies)
        self.optimizer_factory = optimizer
        self.center = center
        self.error_maps = bool(error_maps)
        self.config = config
        if isinstance(test_forward, nn.Module):  # registered as a submodule, its weights would be saved twice
            raise TypeError("test_forward: expected a wrapper of model such as FrozenForward, or None for the "
                            f"model itself; got the module {type(test_forward).__name__}")
        self.test_forward = test_forward

    @property
    def reconstructor(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """What tests and scores reconstruct with: ``test_forward``, else ``model``."""
        return self.test_forward or self.model

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.model(clips)

    def make_inputs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The on-device batch transform, in one place: normalise the uint8 batch on its device
        (:func:`~lnta.data.transforms.to_unit`) and apply the pseudo anomalies by the loss switch.

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
        per_sample = per_sample_mse(self.model(inputs), targets)
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
        # Logged at every step, NaN (an empty cell in csv/metrics.csv) when the batch has no such
        # sample: a metric logged only sometimes would repeat its stale value at the other steps.
        nan = per_sample.new_tensor(float("nan"))
        groups = {"normal": ~pseudo, **({"pseudo": pseudo} if self.anomalies else {})}
        for name, sel in groups.items():
            self.log(f"train/loss_{name}", per_sample[sel].mean() if sel.any() else nan,
                     batch_size=max(int(sel.sum()), 1))
        for k, anomaly in enumerate(self.anomalies):
            if len(self.anomalies) > 1:
                self.log(f"train/fraction_{anomaly.name}", (kinds == k).float().mean(), batch_size=n)
        return loss

    def test_step(self, batch: dict, batch_idx: int) -> dict:
        out = score_clips(self.reconstructor, to_unit(batch["clip"]), self.center, self.error_maps)
        out.update(video=batch["video"], frame=batch["frame"])
        if "label" in batch:
            out["label"] = batch["label"]
        return out

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.config is not None:
            checkpoint[CONFIG_KEY] = self.config

    def configure_optimizers(self):
        if self.optimizer_factory is None:
            raise ConfigError("optimizer: no optimizer given; training needs the optimizer config (conf/train.yaml)")
        return self.optimizer_factory(self.model.parameters())
