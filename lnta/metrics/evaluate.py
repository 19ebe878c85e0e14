"""One test pass of a command (train's end-of-training test, eval): the metric callbacks it needs,
then the outputs written from their results as a separate step."""
from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl

from lnta.data.labels.formats import REGION_FILE
from lnta.data.sampling import scored_frames
from lnta.metrics.calibration import DEFAULT_FALSE_ALARM_RATE
from lnta.metrics.frame_scorer import FrameScorer, run_metrics, write_test_outputs
from lnta.metrics.mechanism import MechanismScorer
from lnta.metrics.pixel import PixelScorer, mask_path

log = logging.getLogger(__name__)


class Evaluation:
    """The test-time metric callbacks of one command, built from its settings, and the step that
    turns their results into ``metrics.json``, ``scores.csv`` and the plots.

    ``pixel_masks`` / ``pixel_stride`` / ``region_quantile``: see :mod:`lnta.metrics.pixel` (``auto``
    looks in ``data_root``). The mechanism measure (:mod:`lnta.metrics.mechanism`) runs wherever the data
    have exact region maps (``<data_root>/testing/region_masks.npz``) or pixel masks. ``false_alarm_rate``: the calibrated score's threshold rate. ``dashboard``: a
    :class:`~lnta.callbacks.dashboard.Dashboard` whose media are written after the metrics.
    """

    def __init__(self, data_root: str | Path, pixel_masks: str | None = "auto", pixel_stride: int = 4,
                 false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE, region_quantile: float = 0.99, dashboard=None):
        self.frame = FrameScorer()
        path = mask_path(pixel_masks, data_root)
        self.pixel = PixelScorer(path, pixel_stride, region_quantile) if path else None
        regions = Path(data_root) / REGION_FILE
        regions = regions if regions.is_file() else path
        self.mechanism = MechanismScorer(regions) if regions else None
        self.false_alarm_rate, self.dashboard = false_alarm_rate, dashboard

    @property
    def error_maps(self) -> bool:
        """Whether the test step must return error maps (pixel masks, or heatmaps to draw)."""
        return self.pixel is not None or self.mechanism is not None or bool(self.dashboard is not None and self.dashboard.heatmaps)

    @property
    def callbacks(self) -> list[pl.Callback]:
        return [c for c in (self.pixel, self.mechanism, self.frame) if c is not None]

    def write(self, trainer: pl.Trainer, module, datamodule, output_dir: str | Path, facts: dict) -> dict:
        """``metrics.json`` of the finished test pass (frame-level, pixel-level where masks exist,
        calibrated where ``module.calibration`` exists, plus ``facts``); written with the scores and
        plots into ``output_dir`` by rank 0. Returns the metrics."""
        store = datamodule.store("test")
        results = self.frame.results
        expected = sum(len(scored_frames(n, datamodule.clip_len, datamodule.center)) for n in store.lengths)
        run = {"dataset": datamodule.name, **datamodule.label_info, "global_step": int(trainer.global_step), **facts}
        extra = self.pixel.compute(store.names, store.lengths) if self.pixel is not None else {}
        if self.mechanism is not None:
            extra.update(self.mechanism.compute(store.names, store.lengths))
        metrics = run_metrics(results, expected, run, module.calibration, self.false_alarm_rate, extra, store.names)
        if trainer.is_global_zero:
            write_test_outputs(output_dir, metrics, results, store.names)
            if self.dashboard is not None:
                self.dashboard.write(results, store.names, trainer.loggers)
        return metrics
