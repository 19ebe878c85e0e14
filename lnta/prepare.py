"""``python -m lnta.prepare data=ped2 data.root=DIR``: decode a dataset once into the uint8 cache.

The cache (``data.cache_dir``, default ``<data.root>/lnta_cache``) holds every frame grayscale at
``data.image_size``, memory-mapped by training. The test split's labels and frame counts are checked
first (before anything is decoded); the cache is written only after every check passed, so a failed
run leaves no cache behind, and a temporary folder left by a killed run is removed. A dataset without
a test split (normal footage only) is prepared for training alone.
"""
from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from lnta.cli._entry import entry_point

log = logging.getLogger("lnta.prepare")


def prepare(cfg: DictConfig):
    # test_required=False: data.test=auto caches the test split when there is one
    datamodule = hydra.utils.instantiate(cfg.data, test_required=False, _convert_="object")
    path = datamodule.prepare_cache()
    log.info("%s (%s layout, %s labels from %s) cached in %s", datamodule.name, datamodule.layout().kind,
             datamodule.label_info.get("label_source"), datamodule.label_info.get("labels_file"), path)
    return path


@entry_point("prepare")
def main(cfg: DictConfig) -> None:
    prepare(cfg)


if __name__ == "__main__":
    main()
