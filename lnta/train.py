"""``python -m lnta.train``: fit the autoencoder with the loss switch, then test the final model."""
from __future__ import annotations

import logging
from pathlib import Path

import hydra
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from lnta.checkpoint import attach_config
from lnta.cli import build_anomalies, build_list, clear_errors
from lnta.launch import gpu_slot  # noqa: F401 - registers ${lnta_gpu_slot:} for trainer=gpu_slot
from lnta.evaluation import FrameScorer
from lnta.module import LNTAModule
from lnta.pixel import metric_callbacks

log = logging.getLogger("lnta.train")


def train(cfg: DictConfig) -> dict | None:
    """Fit, then (``test_after_fit``) test the final model; returns the test metrics."""
    pl.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    datamodule = hydra.utils.instantiate(cfg.data, _convert_="object")
    module = LNTAModule(hydra.utils.instantiate(cfg.model), build_anomalies(cfg.anomaly),
                        optimizer=hydra.utils.instantiate(cfg.optimizer))
    attach_config(module, OmegaConf.to_container(cfg, resolve=True))
    scorer = FrameScorer(str(output_dir))
    metrics = metric_callbacks(scorer, cfg.get("pixel_masks", "auto"), cfg.get("pixel_stride", 4))
    trainer = hydra.utils.instantiate(cfg.trainer, callbacks=[*build_list(cfg.get("callbacks")), *metrics],
                                      logger=build_list(cfg.get("logger")) or False)
    ckpt_path = cfg.ckpt_path
    if ckpt_path == "last":
        ckpt_path = str(output_dir / "checkpoints" / "last.ckpt")
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    if not cfg.test_after_fit:
        return None
    scorer.extra_metrics["epoch"] = trainer.current_epoch - 1  # the last completed epoch
    trainer.test(module, datamodule=datamodule, verbose=False)
    if trainer.is_global_zero:
        log.info("AUC micro %.4f  macro %.4f  (%s)", scorer.metrics["auc_micro"], scorer.metrics["auc_macro"],
                 output_dir / "metrics.json")
    return scorer.metrics


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@clear_errors
def main(cfg: DictConfig) -> None:
    train(cfg)


if __name__ == "__main__":
    main()
