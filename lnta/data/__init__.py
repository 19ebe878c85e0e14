"""Data: frame sources, clip index rules, datasets and data modules.

``lnta.data.VideoDataModule``, ``lnta.data.SyntheticDataModule`` and ``lnta.data.FolderDataModule`` (the
names configs and stored checkpoints use) load on first access, so importing a light submodule (``lnta.data.sampling``)
does not import Lightning.
"""
__all__ = ["VideoDataModule", "SyntheticDataModule", "FolderDataModule"]


def __getattr__(name: str):
    if name == "VideoDataModule":
        from lnta.data.datamodule import VideoDataModule

        return VideoDataModule
    if name == "SyntheticDataModule":
        from lnta.data.synthetic import SyntheticDataModule

        return SyntheticDataModule
    if name == "FolderDataModule":
        from lnta.data.folder import FolderDataModule

        return FolderDataModule
    raise AttributeError(f"module 'lnta.data' has no attribute {name!r}")
