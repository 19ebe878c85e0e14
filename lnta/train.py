"""``python -m lnta.train``: fit the autoencoder with the loss switch, then test the final model."""
from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from lnta.cli._entry import build_anomalies, build_list, build_named, entry_point, finish_loggers
from lnta.trainer.slots import gpu_slot  # noqa: F401 - registers ${lnta_gpu_slot:} for trainer=gpu_slot
from lnta.data.sampling import REFERENCE_CENTER
from lnta.validate import check_train_config

log = logging.getLogger("lnta.train")


def build_datamodule(cfg: DictConfig, speed):
    """The data module of a training config: ``data``, with the skip-frame set of ``anomaly.skips``
    (None without one), the run ``seed`` for the training order and the test-batch scale of ``speed``."""
    return hydra.utils.instantiate(cfg.data, skips=cfg.anomaly.get("skips"), shuffle_seed=cfg.seed,
                                   eval_batch_scale=speed.eval_batch_scale, _convert_="object")


def build_module(cfg: DictConfig, speed, error_maps: bool = False):
    """The LightningModule of a training config: ``model`` (in the memory format of ``speed``), the
    pseudo anomalies of ``anomaly``, ``optimizer``, and the resolved config to store in checkpoints."""
    from lnta.models.module import LNTAModule
    from lnta.trainer.precision import apply_speed

    return LNTAModule(apply_speed(speed, hydra.utils.instantiate(cfg.model)), build_anomalies(cfg.anomaly),
                      optimizer=hydra.utils.instantiate(cfg.optimizer), center=cfg.data.get("center", REFERENCE_CENTER),
                      error_maps=error_maps, config=OmegaConf.to_container(cfg, resolve=True))


def train(cfg: DictConfig) -> dict | None:
    """Fit, then (``test_after_fit``) test the final model; returns the test metrics."""
    import pytorch_lightning as pl  # here, not at the top: ``--help`` and imports stay fast

    from lnta.callbacks.progress import progress_bar
    from lnta.callbacks.resume import expected_checkpoint_dir, resume_checkpoint
    from lnta.metrics.evaluate import Evaluation
    from lnta.trainer.checkpoint import AtomicCheckpointIO, check_resumable, load_checkpoint
    from lnta.trainer.compiled import compiled_last, inference_forward
    from lnta.trainer.precision import speed_from_config

    check_train_config(cfg)
    pl.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    ckpt_path = resume_checkpoint(cfg.ckpt_path, output_dir)
    resumed = load_checkpoint(ckpt_path) if ckpt_path else None  # checked before anything is built or written
    speed = speed_from_config(cfg)
    log.info("%s", speed)
    datamodule = build_datamodule(cfg, speed)
    datamodule.test_required = bool(cfg.test_after_fit)  # without a test, data.test=auto may lack a test split
    callbacks = build_named(cfg.get("callbacks"))
    datamodule.prepare_data()  # generated data (synthetic) exist, masks included, before the evaluation looks for them
    tests = Evaluation(datamodule.root, cfg.get("pixel_masks", "auto"), cfg.get("pixel_stride", 4),
                        cfg.false_alarm_rate, cfg.get("region_quantile", 0.99), callbacks.get("dashboard"))
    module = build_module(cfg, speed, tests.error_maps)
    if resumed is not None:
        check_resumable(module, resumed, ckpt_path, cfg.trainer.get("max_steps"))
        del resumed
    trainer = hydra.utils.instantiate(cfg.trainer, precision=speed.trainer_precision,
                                      callbacks=[*callbacks.values(), *tests.callbacks, *progress_bar(cfg)],
                                      logger=build_list(cfg.get("logger")) or False,
                                      plugins=[AtomicCheckpointIO()])
    metrics = None
    try:
        with expected_checkpoint_dir(ckpt_path, output_dir):
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        if cfg.test_after_fit:
            epoch = trainer.current_epoch - 1  # the last completed epoch, from 0 (README "Training and evaluation")
            tests.frame.epoch = epoch  # the test row of csv/metrics.csv says the same
            module.test_forward = inference_forward(speed, module.model)
            trainer.test(module, datamodule=datamodule, verbose=False)
            metrics = tests.write(trainer, module, datamodule, output_dir, {
                "epoch": epoch, "precision": speed.precision, "trainer_precision": speed.trainer_precision,
                "inference_compiled": compiled_last(module.test_forward)})
    except BaseException:
        finish_loggers(trainer.loggers, failed=True)
        raise
    finish_loggers(trainer.loggers)
    if metrics is not None and trainer.is_global_zero:
        log.info("AUC micro %.4f  macro %.4f  (%s)", metrics["auc_micro"], metrics["auc_macro"],
                 output_dir / "metrics.json")
    return metrics


@entry_point("train")
def main(cfg: DictConfig) -> None:
    train(cfg)


if __name__ == "__main__":
    main()
