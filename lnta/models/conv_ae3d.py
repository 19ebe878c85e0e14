"""The reference 3D-conv autoencoder: MemAE's backbone without memory, with a Tanh output."""
from __future__ import annotations

import torch
from torch import nn

from lnta.errors import ConfigError

# Reference channel widths at width=1.0 (METHOD.md): encoder 1->96->128->256->256, decoder mirrored.
_BASE_CHANNELS = (96, 128, 256, 256)
# Strides (T, H, W) of the encoder's stages; the reference has all four.
_STRIDES = ((1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2))
REFERENCE_STAGES = 4


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def _encoder_block(cin: int, cout: int, stride) -> list[nn.Module]:
    return [
        nn.Conv3d(cin, cout, kernel_size=3, stride=stride, padding=1),
        nn.BatchNorm3d(cout),
        nn.LeakyReLU(0.2, inplace=True),
    ]


def _decoder_block(cin: int, cout: int) -> list[nn.Module]:
    return [
        nn.ConvTranspose3d(cin, cout, kernel_size=3, stride=2, padding=1, output_padding=1),
        nn.BatchNorm3d(cout),
        nn.LeakyReLU(0.2, inplace=True),
    ]


class ConvAE3D(nn.Module):
    """Clip autoencoder (B, C, T, H, W) -> (B, C, T, H, W) in [-1, 1].

    At ``width=1`` it is the authors' model exactly (5,980,801 parameters): the encoder downsamples
    H and W by 16 and T by 8 (16x256x256 -> latent 256x2x16x16). ``width`` scales every hidden
    channel count, for cheap CPU configurations. Layer positions inside ``encoder``/``decoder``
    match the authors' ``nn.Sequential`` indices, so their state dicts load by name.

    ``stages`` (1-4, default 4 = the reference) keeps the first ``stages`` encoder stages and their
    mirrored decoder stages: H and W are downsampled by ``2**stages``, T by ``2**(stages - 1)``. Fewer
    stages keep small objects in the latent (the demo's model; README, "The demo").
    """

    #: The last layer of ``decoder`` (None: the transposed conv is the last; MemAE has no Tanh).
    output_activation: type[nn.Module] | None = nn.Tanh

    @staticmethod
    def factors(stages: int = REFERENCE_STAGES) -> tuple[int, int]:
        """``(temporal, spatial)``: T and H, W must be divisible by these for the output to match the input."""
        return 2 ** (stages - 1), 2 ** stages

    def __init__(self, in_channels: int = 1, width: float = 1.0, stages: int = REFERENCE_STAGES):
        super().__init__()
        if width <= 0:
            raise ValueError(f"model.width must be > 0, got {width}")
        if isinstance(stages, bool) or stages not in range(1, len(_STRIDES) + 1):
            raise ConfigError(f"model.stages={stages}: expected an integer from 1 to {len(_STRIDES)}")
        channels = [_scaled(c, width) for c in _BASE_CHANNELS[:stages]]
        self.in_channels = in_channels
        self.width = width
        self.stages = stages
        self.latent_channels = channels[-1]
        encoder, cin = [], in_channels
        for cout, stride in zip(channels, _STRIDES):
            encoder += _encoder_block(cin, cout, stride)
            cin = cout
        self.encoder = nn.Sequential(*encoder)
        decoder = []
        for cin, cout in zip(channels[::-1], channels[-2::-1]):
            decoder += _decoder_block(cin, cout)
        self.decoder = nn.Sequential(
            *decoder,
            nn.ConvTranspose3d(channels[0], in_channels, kernel_size=3, stride=(1, 2, 2), padding=1,
                               output_padding=(0, 1, 1)),
            *([self.output_activation()] if self.output_activation else []),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
