"""The one construction of the LightningModule, for training, testing a checkpoint and scoring.

Training (:mod:`lnta.train`) and every command that loads a checkpoint (:mod:`lnta.eval`, :mod:`lnta.score`,
:mod:`lnta.export`, ...) build :class:`~lnta.models.module.LNTAModule` here, from a run's resolved config as
plain containers: the network of ``config["model"]``, and for training the pseudo anomalies and the optimizer.
Facts the module needs from elsewhere arrive as values: ``center``, the scored frame of each test clip, is the
data module's (:attr:`lnta.data.VideoDataModule.center`, its one owner), or the stored data config's for a
checkpoint scored without a data module.
"""
from __future__ import annotations

from typing import Sequence

import hydra

from lnta.data.sampling import REFERENCE_CENTER
from lnta.models.module import CONFIG_KEY, LNTAModule
from lnta.trainer.compiled import inference_forward
from lnta.trainer.precision import Speed, apply_speed


def scored_frame(data_config: dict) -> int:
    """The scored frame of a data config: ``center``, the reference's 9th frame (index 8) unless set."""
    return int(data_config.get("center", REFERENCE_CENTER))


def build_module(config: dict, center: int, *, speed: Speed | None = None, anomalies: Sequence = (),
                 train: bool = False, error_maps: bool = False) -> LNTAModule:
    """The LightningModule of a resolved run ``config`` (plain containers; a checkpoint's must have passed
    :func:`lnta.trainer.checkpoint.load_checkpoint`'s check, since ``config["model"]`` is instantiated).

    ``center``: the scored frame of the clips it tests. ``speed`` (:class:`~lnta.trainer.precision.Speed`):
    the network's memory format and the test forward (:func:`~lnta.trainer.compiled.inference_forward`);
    None: the model itself in its default layout. ``train``: with ``anomalies`` and the optimizer factory of
    ``config["optimizer"]``. ``error_maps``: the test step also returns error maps (pixel-level metrics,
    heatmaps, the mechanism measure). The config is stored in every checkpoint the module saves.
    """
    model = hydra.utils.instantiate(config["model"])
    if speed is not None:
        apply_speed(speed, model)
    # plain lists (betas), not ListConfig: torch 2.4 keeps them as given in the optimizer state, which then fails
    # every weights_only load of the checkpoint (newer torch turns them into tuples)
    optimizer = hydra.utils.instantiate(config["optimizer"], _convert_="object") if train else None
    forward = inference_forward(speed, model) if speed is not None else model
    return LNTAModule(model, anomalies if train else (), optimizer=optimizer, center=center, error_maps=error_maps,
                      config=config, test_forward=None if forward is model else forward)


def module_from_checkpoint(checkpoint: dict, center: int | None = None, *, speed: Speed | None = None,
                           error_maps: bool = False) -> LNTAModule:
    """The module of a loaded checkpoint (:func:`lnta.trainer.checkpoint.load_checkpoint`), for testing: its
    weights, no pseudo anomalies. ``center``: the scored frame of the data it will test (default: the one
    stored with the checkpoint's data config)."""
    config = checkpoint[CONFIG_KEY]
    center = scored_frame(config["data"]) if center is None else center
    module = build_module(config, center, speed=speed, error_maps=error_maps)
    module.load_state_dict(checkpoint["state_dict"])
    return module
