"""``python -m lnta.export ckpt_path=FILE out=FILE.pt``: the AE as TorchScript for deployment.

The logic lives in :mod:`lnta.deploy.export`; it is imported when the command runs."""
from __future__ import annotations

from omegaconf import DictConfig

from lnta.cli._entry import entry_point


@entry_point("export")
def main(cfg: DictConfig) -> None:
    from lnta.deploy.export import export

    export(cfg)


if __name__ == "__main__":
    main()
