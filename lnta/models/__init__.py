"""Models."""
from lnta.models.conv_ae3d import ConvAE3D
from lnta.models.memae import MemAE

__all__ = ["ConvAE3D", "MemAE"]
