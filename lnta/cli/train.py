"""``python -m lnta.train``: fit the autoencoder with the loss switch, then test the final model."""
from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from lnta.cli._entry import build_anomalies, build_list, entry_point
from lnta.trainer.slots import gpu_slot  # noqa: F401 - registers ${lnta_gpu_slot:} for trainer=gpu_slot
from lnta.validate import check_train_config

log = logging.getLogger("lnta.train")


def train(cfg: DictConfig) -> dict | None:
    """Fit, then (``test_after_fit``) test the final model; returns the test metrics."""
    import pytorch_lightning as pl  # here, not at the top: ``--help`` and imports stay fast

    from lnta.callbacks.progress import progress_bar
    from lnta.callbacks.resume import resume_checkpoint
    from lnta.metrics.frame_scorer import FrameScorer
    from lnta.metrics.pixel import metric_callbacks
    from lnta.models.module import LNTAModule
    from lnta.trainer.checkpoint import AtomicCheckpointIO, attach_config, check_resumable, load_checkpoint
    from lnta.trainer.precision import apply_speed, speed_from_config

    check_train_config(cfg)
    pl.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    ckpt_path = resume_checkpoint(cfg.ckpt_path, output_dir)
    resumed = load_checkpoint(ckpt_path) if ckpt_path else None  # checked before anything is built or written
    speed = speed_from_config(cfg)
    log.info("%s", speed)
    datamodule = hydra.utils.instantiate(cfg.data, _convert_="object")
    datamodule.test_required = bool(cfg.test_after_fit)  # without a test, data.test=auto may lack a test split
    model = apply_speed(speed, hydra.utils.instantiate(cfg.model), datamodule)
    module = LNTAModule(model, build_anomalies(cfg.anomaly),
                        optimizer=hydra.utils.instantiate(cfg.optimizer))
    attach_config(module, OmegaConf.to_container(cfg, resolve=True))
    if resumed is not None:
        check_resumable(module, resumed, ckpt_path)
        del resumed
    scorer = FrameScorer(str(output_dir), extra_metrics={"precision": speed.precision,
                                                         "trainer_precision": speed.trainer_precision})
    metrics = metric_callbacks(scorer, cfg.get("pixel_masks", "auto"), cfg.get("pixel_stride", 4),
                                 cfg.get("region_quantile", 0.99))
    trainer = hydra.utils.instantiate(cfg.trainer, precision=speed.trainer_precision,
                                      callbacks=[*build_list(cfg.get("callbacks")), *metrics, *progress_bar(cfg)],
                                      logger=build_list(cfg.get("logger")) or False,
                                      plugins=[AtomicCheckpointIO()])
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    if not cfg.test_after_fit:
        return None
    scorer.extra_metrics["epoch"] = trainer.current_epoch - 1  # the last completed epoch
    trainer.test(module, datamodule=datamodule, verbose=False)
    if trainer.is_global_zero:
        log.info("AUC micro %.4f  macro %.4f  (%s)", scorer.metrics["auc_micro"], scorer.metrics["auc_macro"],
                 output_dir / "metrics.json")
    return scorer.metrics


@entry_point("train")
def main(cfg: DictConfig) -> None:
    train(cfg)


if __name__ == "__main__":
    main()
