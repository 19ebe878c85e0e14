"""``python -m lnta.score ckpt_path=FILE input=PATH``: anomaly scores for unlabelled footage.

The logic lives in :mod:`lnta.deploy.scorer`; it is imported when the command runs."""
from __future__ import annotations

from omegaconf import DictConfig

from lnta.cli._entry import entry_point


@entry_point("score")
def main(cfg: DictConfig) -> None:
    from lnta.deploy.scorer import score

    score(cfg)


if __name__ == "__main__":
    main()
