"""``python -m lnta.download NAME [root=DIR]``: a dataset (ped2, avenue, shanghaitech) or the CIFAR-100
intruders from the official URLs, verified and unpacked into the layout lnta reads.

The sources, checksums and layouts are in :mod:`lnta.data.catalogue`; the options in
``conf/download.yaml``. A bare first argument is the name (``name=ped2`` works too).
"""
from __future__ import annotations

import sys

from omegaconf import DictConfig, OmegaConf

from lnta.cli._entry import entry_point
from lnta.data.catalogue import SOURCES
from lnta.data.fetch import download
from lnta.errors import ConfigError


@entry_point("download")
def main(cfg: DictConfig) -> None:
    if cfg.name is None:
        raise ConfigError(f"download: name a dataset, one of {', '.join(SOURCES)} (python -m lnta.download ped2)")
    download(str(cfg.name), root=cfg.root, data_dir=cfg.paths.data_dir, labels_only=cfg.labels_only,
             force=cfg.force, keep_archives=cfg.keep_archives, download_dir=cfg.download_dir,
             timeout=float(cfg.timeout), retries=int(cfg.retries), progress=cfg.progress,
             sources=OmegaConf.to_container(cfg.sources, resolve=True))


def _name_argument(argv: list[str]) -> list[str]:
    """``download ped2 root=D`` -> ``download name=ped2 root=D`` (Hydra takes only key=value)."""
    if len(argv) > 1 and "=" not in argv[1] and not argv[1].startswith("-"):
        return [argv[0], f"name={argv[1]}", *argv[2:]]
    return argv


def run() -> None:
    """The command: ``lnta-download ped2 root=D`` and ``python -m lnta.download ped2 root=D``."""
    sys.argv = _name_argument(sys.argv)
    main()


if __name__ == "__main__":
    run()
