"""``python -m lnta.train``: fit the autoencoder with the loss switch, then test the final model."""
from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from lnta.cli._entry import build_list, build_named, entry_point, finish_loggers
from lnta.cli.settings import check_train_config

log = logging.getLogger("lnta.train")


def build_datamodule(cfg: DictConfig, speed, anomalies=()):
    """The data module of a training config: ``data``, with what the pseudo ``anomalies`` need of every
    training item (their clip rules), the run ``seed`` for the training order, the test-batch scale of
    ``speed`` and whether a test follows training (``test_after_fit``)."""
    rules = [rule for rule in (a.clip_rule() for a in anomalies) if rule is not None]
    return hydra.utils.instantiate(cfg.data, clip_rules=rules, shuffle_seed=cfg.seed,
                                   eval_batch_scale=speed.eval_batch_scale, test_required=bool(cfg.test_after_fit),
                                   _convert_="object")


def calibrate_after_fit(trainer, module, datamodule, settings, speed) -> dict:
    """The normal-PSNR statistics of the trained weights (:func:`lnta.metrics.calibration.calibrate`), once,
    with the test step's own forward and autocast, on the normal clips the data module offers
    (:meth:`~lnta.data.datamodule.VideoDataModule.calibration_clips`: the training clips, or with
    ``data=folder`` and ``data.holdout`` the held-out videos' clips), written into the checkpoints that hold
    these weights (``last.ckpt`` and, at an epoch end, that epoch's file)."""
    from lnta.metrics.calibration import calibrate
    from lnta.trainer.checkpoint import store_calibration
    from lnta.trainer.precision import autocast

    clips = datamodule.calibration_clips()
    log.info("calibration: scoring %d %s with the trained weights (the normal-PSNR statistics of "
             "lnta.score's thresholds)", clips.count(datamodule.clip_len, settings.max_clips), clips.what)
    module.eval()
    with autocast(speed, module.device):
        stats = calibrate(module.reconstructor, clips.store, datamodule.clip_len, datamodule.center,
                          settings.max_clips, settings.batch_size, module.device, settings.seed,
                          what=clips.what, held_out=clips.held_out)
    stats["source"] += f" at step {trainer.global_step}"
    log.info("calibration: normal PSNR %.2f +- %.2f dB over %d %s", stats["mean"], stats["std"], stats["n"],
             clips.what)
    if trainer.is_global_zero:
        paths = [p for cb in trainer.checkpoint_callbacks for p in (cb.last_model_path, cb.best_model_path) if p]
        store_calibration(paths, stats, trainer.global_step)
    return stats


def train(cfg: DictConfig) -> dict | None:
    """Fit, compute the calibration statistics once, then (``test_after_fit``) test the final model;
    returns the test metrics."""
    import pytorch_lightning as pl  # here, not at the top: ``--help`` and imports stay fast

    from lnta.anomaly.switch import anomalies_from_config
    from lnta.callbacks.progress import progress_bar
    from lnta.callbacks.resume import exact_mid_epoch_resume, expected_checkpoint_dir, resume_checkpoint
    from lnta.loggers import log_test_metrics
    from lnta.metrics.evaluate import Evaluator
    from lnta.reporting.test_outputs import write_test_outputs
    from lnta.trainer.build import build_module
    from lnta.trainer.checkpoint import AtomicCheckpointIO, check_resumable, load_checkpoint, resume_state
    from lnta.trainer.compiled import compiled_last
    from lnta.trainer.precision import speed_from_config, trainer_accelerator

    check_train_config(cfg)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)  # said with the speed settings, once the data are found
    output_dir = Path(cfg.paths.output_dir)
    ckpt_path = resume_checkpoint(cfg.ckpt_path, output_dir)
    resumed = load_checkpoint(ckpt_path) if ckpt_path else None  # checked before anything is built or written
    speed = speed_from_config(cfg)
    anomalies = anomalies_from_config(cfg.anomaly)
    datamodule = build_datamodule(cfg, speed, anomalies)
    callbacks = build_named(cfg.get("callbacks"))
    datamodule.prepare_data()  # generated data (synthetic) exist, masks included, before the evaluator looks for them
    log.info("seed %s, %s", cfg.seed, speed)
    evaluator = Evaluator.from_config(cfg.evaluation, datamodule.root)
    dashboard = callbacks.get("dashboard")
    error_maps = evaluator.error_maps or bool(dashboard is not None and dashboard.heatmaps)
    module = build_module(OmegaConf.to_container(cfg, resolve=True), datamodule.center, speed=speed,
                          anomalies=anomalies, train=True, error_maps=error_maps)
    position = resume_state(resumed) if resumed is not None else {}
    if resumed is not None:
        check_resumable(module, resumed, ckpt_path, cfg.trainer.get("max_steps"))
        del resumed
    trainer = hydra.utils.instantiate(cfg.trainer, accelerator=trainer_accelerator(cfg.trainer.get("accelerator")),
                                      precision=speed.trainer_precision,
                                      callbacks=[*callbacks.values(), *evaluator.callbacks, *progress_bar(cfg)],
                                      logger=build_list(cfg.get("logger")) or False,
                                      plugins=[AtomicCheckpointIO()])
    metrics = None
    try:
        with expected_checkpoint_dir(ckpt_path, output_dir), exact_mid_epoch_resume(trainer, datamodule, position):
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        calibration = cfg.evaluation.get("calibration")
        calibration = calibrate_after_fit(trainer, module, datamodule, calibration, speed) if calibration else None
        if cfg.test_after_fit and not datamodule.reads_test():
            log.info("%s has no test split: the test after fit is skipped (no AUC); score new footage with "
                     "python -m lnta.score ckpt_path=%s input=VIDEO", datamodule.name,
                     next((cb.last_model_path for cb in trainer.checkpoint_callbacks if cb.last_model_path),
                          "RUN/checkpoints/last.ckpt"))
        elif cfg.test_after_fit:
            epoch = trainer.current_epoch - 1  # the last completed epoch, from 0 (README "Training and evaluation")
            trainer.test(module, datamodule=datamodule, verbose=False)
            split = datamodule.test_split()
            metrics, results = evaluator.compute(split, {
                "global_step": int(trainer.global_step), "epoch": epoch, "precision": speed.precision,
                "trainer_precision": speed.trainer_precision,
                "inference_compiled": compiled_last(module.test_forward)}, calibration)
            if trainer.is_global_zero:
                write_test_outputs(output_dir, metrics, results, split.names)
                if dashboard is not None:
                    dashboard.write(results, split.names, trainer.loggers)
                log_test_metrics(trainer.loggers, metrics, epoch, trainer.global_step)
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
