"""``python -m lnta.prepare data=ped2 data.root=DIR``: decode a dataset once into the uint8 cache.

The cache (``data.cache_dir``, default ``<data.root>/lnta_cache``) holds every frame grayscale at
``data.image_size``, memory-mapped by training; it is written only after the frame counts and the
test labels verified, so a failed run leaves no cache behind.
"""
from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from lnta.cli._entry import entry_point

log = logging.getLogger("lnta.prepare")


def prepare(cfg: DictConfig):
    datamodule = hydra.utils.instantiate(cfg.data, skips=None, _convert_="object")
    path = datamodule.prepare_cache()
    log.info("%s (%s layout, %s labels from %s) cached in %s", datamodule.name, datamodule.layout().kind,
             datamodule.label_info.get("label_source"), datamodule.label_info.get("labels_file"), path)
    return path


@entry_point("prepare")
def main(cfg: DictConfig) -> None:
    prepare(cfg)


if __name__ == "__main__":
    main()
