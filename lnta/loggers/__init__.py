"""Experiment loggers built by code (``conf/logger``), and what the commands log to any logger."""
from lnta.loggers.wandb import wandb_logger

__all__ = ["wandb_logger", "log_test_metrics"]


def log_test_metrics(loggers, metrics: dict, epoch: int, step: int) -> None:
    """Log a test pass's ``test/auc_micro`` and ``test/auc_macro`` to every logger, with ``epoch`` (the index of
    the last trained epoch, from 0, as ``epochNNN.ckpt`` and ``metrics.json``) at optimizer step ``step``."""
    row = {"test/auc_micro": metrics["auc_micro"], "test/auc_macro": metrics["auc_macro"], "epoch": float(epoch)}
    for logger in loggers:
        logger.log_metrics(row, step=step)
        logger.save()
