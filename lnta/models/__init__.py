"""Models."""
from lnta.models.conv_ae3d import ConvAE3D

__all__ = ["ConvAE3D"]
