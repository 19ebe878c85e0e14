"""The numeric rules of the ``evaluation`` config group, beside its code (checked by every command,
:mod:`lnta.cli.settings`)."""
from lnta.validate import COUNT, FRACTION, SEED

RANGES = {
    "evaluation.pixel_stride": COUNT, "evaluation.region_quantile": FRACTION,
    "evaluation.false_alarm_rate": FRACTION, "evaluation.gpu_batch_scale": COUNT,
    "evaluation.calibration.max_clips": COUNT, "evaluation.calibration.batch_size": COUNT,
    "evaluation.calibration.seed": SEED,
}
