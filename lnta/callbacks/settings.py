"""The numeric rules of the ``callbacks`` config group, beside its code (checked by every command, :mod:`lnta.cli.settings`)."""
from lnta.validate import COUNT, NATURAL, Range

#: Lightning: -1 keeps all, 0 none
_TOP_K = Range(low=-1)

RANGES = {
    "callbacks.model_checkpoint.every_n_epochs": NATURAL, "callbacks.model_checkpoint.save_top_k": _TOP_K,
    "callbacks.step_checkpoint.every_n_train_steps": NATURAL, "callbacks.step_checkpoint.save_top_k": _TOP_K,
    "callbacks.dashboard.heatmaps": NATURAL,
    "callbacks.finite_weights.every_n_steps": COUNT,
    "callbacks.finite_weights.max_abs": Range(integer=False, low=0, open_low=True, none=True),
    "callbacks.run_plan.timed_steps": COUNT,
    "callbacks.pseudo_anomaly_images.frames": Range(low=0, none=True, items=True),
}
