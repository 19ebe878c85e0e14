"""Data: frame sources, clip index rules, datasets and data modules."""
from lnta.data.datamodule import VideoDataModule
from lnta.data.synthetic import SyntheticDataModule

__all__ = ["VideoDataModule", "SyntheticDataModule"]
