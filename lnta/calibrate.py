"""``python -m lnta.calibrate ckpt_path=FILE input=NORMAL_FOOTAGE [out=FILE]``: set the alarm
threshold on held-out normal footage instead of the training clips.

The logic lives in :func:`lnta.deploy.scorer.recalibrate`; it is imported when the command runs."""
from __future__ import annotations

from omegaconf import DictConfig

from lnta.cli._entry import entry_point


@entry_point("calibrate")
def main(cfg: DictConfig) -> None:
    from lnta.deploy.scorer import recalibrate

    recalibrate(cfg)


if __name__ == "__main__":
    main()
