"""The numeric rules of the ``trainer`` config group, the run ``seed`` and the ``optimizer`` (checked by every
command, :mod:`lnta.cli.settings`)."""
import numbers

from lnta.errors import ConfigError
from lnta.validate import COUNT, POSITIVE, SEED, Range


def _devices(key: str, value) -> None:
    """``trainer.devices``: a count >= 1, -1 (all), or what Lightning parses itself (auto, a list, "0,1")."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and not (value >= 1 or value == -1):
        raise ConfigError(f"{key}={value}: expected a device count >= 1, -1 (all), auto or a list of device ids")


def _limit_batches(key: str, value) -> None:
    """Lightning's ``limit_*_batches``: null, a batch count >= 1, or a fraction in (0, 1]."""
    if value is None or isinstance(value, int) and not isinstance(value, bool) and value >= 1 \
            or isinstance(value, float) and 0 < value <= 1:
        return
    raise ConfigError(f"{key}={value}: expected null, a batch count >= 1, or a fraction in (0, 1]")


def _max_epochs(key: str, value) -> None:
    """``trainer.max_epochs``: at least one epoch, or -1 / null (then ``trainer.max_steps`` ends the run); 0 would
    test an untrained model."""
    if value is None or value == -1 or isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return
    raise ConfigError(f"{key}={value}: expected an integer >= 1 (or -1 with trainer.max_steps)")


RANGES = {
    "seed": SEED,
    "trainer.max_epochs": _max_epochs, "trainer.max_steps": Range(low=-1),
    "trainer.limit_train_batches": _limit_batches, "trainer.log_every_n_steps": COUNT,
    "trainer.num_sanity_val_steps": Range(low=-1), "trainer.devices": _devices,
    "optimizer.lr": POSITIVE, "optimizer.betas": Range(integer=False, low=0, high=1, open_high=True, items=True),
    "optimizer.weight_decay": Range(integer=False, low=0),
}
