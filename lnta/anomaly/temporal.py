"""Temporal pseudo anomalies made from the normal clip alone: reversed, repeated (slow) and shuffled frames.

Each type is an index rule: the pseudo clip is ``X_P[:, :, i] = X_N[:, :, f_i]`` for frame indices
``f`` (n, T) into the *same* normal clip, so it is made on the training device from the batch without
any extra frames from the data. The target is the normal clip (the paper's loss switch). Indices are
drawn with the torch RNG of the clips' device (seeded by the run seed), like the patch anomaly; the
draws of the last call are kept in ``self._params`` and ``forward(..., params=saved)`` replays them.
"""
from __future__ import annotations

from typing import Dict, Sequence

import torch

from lnta.anomaly.base import PseudoAnomaly
from lnta.errors import ConfigError
from lnta.anomaly.settings import skip_set


def gather_frames(clips: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """``out[b, :, i] = clips[b, :, frames[b, i]]``: clips (n, C, T, H, W), indices (n, T') -> (n, C, T', H, W)."""
    rows = torch.arange(len(clips), device=clips.device)[:, None]
    return clips.transpose(1, 2)[rows, frames].transpose(1, 2)


def reverse_indices(n: int, length: int, device=None) -> torch.Tensor:
    """``f_i = T - 1 - i``: the clip played backwards (the follow-ups' "moving backward"). (n, T)."""
    return torch.arange(length - 1, -1, -1, device=device).expand(n, length)


def repeat_indices(repeats: torch.Tensor, length: int) -> torch.Tensor:
    """``f_i = floor(i / r)``: every frame of the clip's start shown ``r`` times, i.e. motion ``r`` times slower.

    ``repeats`` (n,) holds r per sample; returns (n, T). With T = 16, r = 3 gives frames
    0,0,0,1,1,1,...,5; the indices stay inside the clip for any r >= 1 (r >= T freezes frame 0).
    The dual of skip-frame (``n, n + s, ...``, faster motion).
    """
    i = torch.arange(length, device=repeats.device)
    return torch.div(i[None, :], repeats[:, None], rounding_mode="floor")


def shuffle_indices(n: int, length: int, device=None) -> torch.Tensor:
    """A uniformly random permutation of ``0..T-1`` per sample, never the identity. (n, T).

    The permutations are the argsort of uniform draws; a row that comes out as the identity is
    drawn again (rejection), so every one of the ``T! - 1`` other orders is equally likely.
    """
    if length < 2:
        raise ConfigError(f"data.clip_len={length}: the shuffle pseudo anomaly needs clips of at least 2 frames")
    identity = torch.arange(length, device=device)
    perms = torch.rand(n, length, device=device).argsort(1)
    while True:
        same = (perms == identity).all(1)
        if not same.any():
            return perms
        perms[same] = torch.rand(int(same.sum()), length, device=device).argsort(1)


class TemporalAnomaly(PseudoAnomaly):
    """A pseudo anomaly that re-orders the frames of the normal clip; subclasses implement :meth:`draw`."""

    def draw(self, n: int, length: int, device: torch.device) -> Dict[str, torch.Tensor]:
        """The parameters of ``n`` samples of ``length`` frames; ``frames`` (n, T) is the index rule."""
        raise NotImplementedError

    def forward(self, clips: torch.Tensor, batch: dict, index: torch.Tensor,
                params: Dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        normal = clips[index]
        self._params = params if params is not None else self.draw(len(normal), normal.shape[2], normal.device)
        return gather_frames(normal, self._params["frames"]), normal


class ReverseClip(TemporalAnomaly):
    """Frames played backwards: ``f_i = T - 1 - i`` (:func:`reverse_indices`); the "moving backward"
    pseudo anomaly of Astrid, Zaheer and Lee (Ubiquitous Robots 2022)."""

    name = "reverse"

    def draw(self, n, length, device):
        return {"frames": reverse_indices(n, length, device)}


class RepeatFrames(TemporalAnomaly):
    """Abnormally slow motion: ``f_i = floor(i / r)`` with r drawn per sample, uniformly from ``repeats``
    (:func:`repeat_indices`). The input holds the clip's first ``ceil(T / r)`` frames, each ``r`` times."""

    name = "repeat"

    def __init__(self, p: float, repeats: Sequence[int] = (2, 3, 4), **kwargs):
        super().__init__(p, **kwargs)
        self.repeats = skip_set("anomaly.repeats", repeats)

    def draw(self, n, length, device):
        choices = torch.tensor(self.repeats, device=device)
        r = choices[torch.randint(len(choices), (n,), device=device)]
        return {"repeats": r, "frames": repeat_indices(r, length)}


class ShuffleClip(TemporalAnomaly):
    """Temporally shuffled frames: a uniformly random non-identity permutation per sample
    (:func:`shuffle_indices`)."""

    name = "shuffle"

    def draw(self, n, length, device):
        return {"frames": shuffle_indices(n, length, device)}
