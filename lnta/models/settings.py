"""The numeric rules of the ``model`` config group, beside its code (checked by every command, :mod:`lnta.cli.settings`)."""
from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

from lnta.data.sampling import REFERENCE_CENTER
from lnta.errors import ConfigError
from lnta.models.conv_ae3d import REFERENCE_STAGES
from lnta.validate import COUNT, POSITIVE, Range

RANGES = {
    "model.in_channels": COUNT, "model.width": POSITIVE, "model.stages": Range(low=1, high=4),
    # MemAE
    "model.slots": COUNT, "model.shrink_threshold": Range(integer=False, low=0, high=1, open_high=True),
    "model.entropy_weight": Range(integer=False, low=0),
}


def check_shapes(data: DictConfig, model: DictConfig) -> None:
    """Image size and clip length must suit the model's down-sampling (and the scored frame)."""
    model_class = hydra.utils.get_class(model._target_)
    factors = getattr(model_class, "factors", None)
    temporal, spatial = factors(model.get("stages", REFERENCE_STAGES)) if factors else (1, 1)
    size = data.get("image_size")
    sizes = list(size) if OmegaConf.is_list(size) else [size]
    if any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 or s % spatial for s in sizes):
        raise ConfigError(f"data.image_size={size}: expected a positive multiple of {spatial} "
                          f"(the model down-samples frames {spatial}x), e.g. 256")
    clip_len, center = data.get("clip_len"), data.get("center", REFERENCE_CENTER)
    if isinstance(clip_len, bool) or not isinstance(clip_len, int) or clip_len <= center or clip_len % temporal:
        raise ConfigError(f"data.clip_len={clip_len}: expected a multiple of {temporal} greater than the "
                          f"scored frame index {center} (the reference uses 16)")
