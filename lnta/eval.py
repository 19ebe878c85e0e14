"""``python -m lnta.eval ckpt_path=FILE``: test a checkpoint with the reference protocol."""
from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from lnta.checkpoint import CONFIG_KEY, load_checkpoint, module_from_checkpoint
from lnta.cli import entry_point
from lnta.errors import ConfigError
from lnta.evaluation import FrameScorer
from lnta.validate import check_eval_config
from lnta.fast import apply_speed, speed_from_config

log = logging.getLogger("lnta.eval")


def evaluate(cfg: DictConfig) -> dict:
    """Test ``cfg.ckpt_path`` on ``cfg.data`` (default: the data it was trained on)."""
    check_eval_config(cfg)
    checkpoint = load_checkpoint(cfg.ckpt_path)
    trained = checkpoint[CONFIG_KEY]
    data_cfg = cfg.get("data") or OmegaConf.create(trained["data"])
    if data_cfg.get("image_size") != trained["data"]["image_size"]:
        raise ConfigError(f"data.image_size={data_cfg.get('image_size')}: the checkpoint was trained at "
                          f"{trained['data']['image_size']}")
    speed = speed_from_config(cfg)
    datamodule = hydra.utils.instantiate(data_cfg, skips=None, _convert_="object")
    scorer = FrameScorer(cfg.paths.output_dir, extra_metrics={
        "epoch": int(checkpoint.get("epoch", -1)), "ckpt_path": str(Path(cfg.ckpt_path).resolve())})
    trainer = hydra.utils.instantiate(cfg.trainer, precision=speed.trainer_precision, callbacks=[scorer],
                                      logger=False)
    module = module_from_checkpoint(checkpoint)
    apply_speed(speed, module.model, datamodule)
    trainer.test(module, datamodule=datamodule, verbose=False)
    log.info("AUC micro %.4f  macro %.4f", scorer.metrics["auc_micro"], scorer.metrics["auc_macro"])
    return scorer.metrics


@entry_point("eval")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
