"""The numeric rules of the ``model`` config group, beside its code (checked by every command, :mod:`lnta.cli.settings`)."""
from lnta.validate import COUNT, POSITIVE, Range

RANGES = {
    "model.in_channels": COUNT, "model.width": POSITIVE, "model.stages": Range(low=1, high=4),
    # MemAE
    "model.slots": COUNT, "model.shrink_threshold": Range(integer=False, low=0, high=1, open_high=True),
    "model.entropy_weight": Range(integer=False, low=0),
}
