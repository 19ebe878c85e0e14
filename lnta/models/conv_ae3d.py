"""The reference 3D-conv autoencoder: MemAE's backbone without memory, with a Tanh output."""
from __future__ import annotations

import torch
from torch import nn

# Reference channel widths at width=1.0 (METHOD.md): encoder 1->96->128->256->256, decoder mirrored.
_BASE_CHANNELS = (96, 128, 256, 256)


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
    """

    #: T, H and W must be divisible by these for the output to match the input shape.
    temporal_factor = 8
    spatial_factor = 16
    #: The last layer of ``decoder`` (None: the transposed conv is the last; MemAE has no Tanh).
    output_activation: type[nn.Module] | None = nn.Tanh

    def __init__(self, in_channels: int = 1, width: float = 1.0):
        super().__init__()
        if width <= 0:
            raise ValueError(f"model.width must be > 0, got {width}")
        c1, c2, c3, c4 = (_scaled(c, width) for c in _BASE_CHANNELS)
        self.in_channels = in_channels
        self.width = width
        self.latent_channels = c4
        self.encoder = nn.Sequential(
            *_encoder_block(in_channels, c1, (1, 2, 2)),
            *_encoder_block(c1, c2, 2),
            *_encoder_block(c2, c3, 2),
            *_encoder_block(c3, c4, 2),
        )
        self.decoder = nn.Sequential(
            *_decoder_block(c4, c3),
            *_decoder_block(c3, c2),
            *_decoder_block(c2, c1),
            nn.ConvTranspose3d(c1, in_channels, kernel_size=3, stride=(1, 2, 2), padding=1,
                               output_padding=(0, 1, 1)),
            *([self.output_activation()] if self.output_activation else []),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
