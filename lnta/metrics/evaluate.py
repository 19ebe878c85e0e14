"""The evaluation of a test pass, as one room: the metric callbacks it needs, fed by the test step's outputs,
and :meth:`Evaluator.compute`, which turns their results into ``metrics.json``'s contents.

Configured by the ``evaluation`` config group (``conf/evaluation/default.yaml``); the test split's facts
(names, frame counts, clip length, scored frame, label source) arrive as one value,
:class:`lnta.data.datamodule.TestSplit`, and the command's facts (epoch, precision, ...) as a dict. Nothing
here reads the data module or writes files: :mod:`lnta.reporting.test_outputs` writes them.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl

from lnta.data.labels.formats import REGION_FILE
from lnta.metrics.calibration import DEFAULT_FALSE_ALARM_RATE
from lnta.metrics.frame_scorer import FrameScorer, run_metrics
from lnta.metrics.mechanism import MechanismScorer
from lnta.metrics.pixel import PixelScorer, mask_path

log = logging.getLogger(__name__)


class Evaluator:
    """The test-time metric callbacks of one command, built from its ``evaluation`` settings.

    ``pixel_masks`` / ``pixel_stride`` / ``region_quantile``: see :mod:`lnta.metrics.pixel` (``auto`` looks
    in ``data_root``). ``mechanism``: the mechanism measure (:mod:`lnta.metrics.mechanism`) wherever the data
    have exact region maps (``<data_root>/testing/region_masks.npz``) or pixel masks. ``false_alarm_rate``:
    the calibrated score's threshold rate. :meth:`from_config` builds it from the group.
    """

    def __init__(self, data_root: str | Path, pixel_masks: str | None = "auto", pixel_stride: int = 4,
                 region_quantile: float = 0.99, mechanism: bool = True,
                 false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE):
        self.frame = FrameScorer()
        path = mask_path(pixel_masks, data_root)
        self.pixel = PixelScorer(path, pixel_stride, region_quantile) if path else None
        regions = Path(data_root) / REGION_FILE
        regions = regions if regions.is_file() else path
        self.mechanism = MechanismScorer(regions) if mechanism and regions else None
        self.false_alarm_rate = false_alarm_rate

    @classmethod
    def from_config(cls, settings, data_root: str | Path) -> Evaluator:
        """From the ``evaluation`` config group; its ``gpu_batch_scale`` and ``calibration`` keys are the
        commands' (test batch size; the statistics computed after training)."""
        return cls(data_root, settings.get("pixel_masks", "auto"), settings.get("pixel_stride", 4),
                   settings.get("region_quantile", 0.99), settings.get("mechanism", True),
                   settings.get("false_alarm_rate", DEFAULT_FALSE_ALARM_RATE))

    @property
    def error_maps(self) -> bool:
        """Whether the test step must return error maps (pixel masks or the mechanism measure)."""
        return self.pixel is not None or self.mechanism is not None

    @property
    def callbacks(self) -> list[pl.Callback]:
        return [c for c in (self.pixel, self.mechanism, self.frame) if c is not None]

    def compute(self, split, facts: dict, calibration: dict | None = None) -> tuple[dict, dict[str, np.ndarray]]:
        """``(metrics, results)`` of the finished test pass over ``split`` (a
        :class:`~lnta.data.datamodule.TestSplit`): frame-level metrics, pixel-level and the mechanism
        where masks exist, the calibrated score where ``calibration`` statistics exist, with the split's
        dataset and label source and ``facts``; ``results`` are the per-frame results of the frame scorer."""
        extra = self.pixel.compute(split.names, split.lengths) if self.pixel is not None else {}
        if self.mechanism is not None:
            extra.update(self.mechanism.compute(split.names, split.lengths))
        run = {"dataset": split.dataset, **split.label_info, **facts}
        metrics = run_metrics(self.frame.results, split.scored_frames, run, calibration, self.false_alarm_rate,
                              extra, split.names)
        return metrics, self.frame.results
