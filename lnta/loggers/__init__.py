"""Experiment loggers built by code (``conf/logger``); ``lnta.loggers.wandb_logger`` stays importable here."""
from lnta.loggers.wandb import wandb_logger

__all__ = ["wandb_logger"]
