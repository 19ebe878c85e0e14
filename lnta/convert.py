"""``python -m lnta.convert src=FILE out=FILE``: the authors' released checkpoints as lnta checkpoints.

The logic lives in :mod:`lnta.deploy.authors_weights`; it is imported when the command runs."""
from __future__ import annotations

from omegaconf import DictConfig

from lnta.cli._entry import entry_point


@entry_point("convert")
def main(cfg: DictConfig) -> None:
    from lnta.deploy.authors_weights import convert

    convert(cfg)


if __name__ == "__main__":
    main()
