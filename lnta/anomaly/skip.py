"""Skip-frame pseudo anomalies: frames n, n+s, ..., n+15s fake an abnormally fast motion."""
from __future__ import annotations

from typing import Sequence

from lnta.anomaly.base import PseudoAnomaly
from lnta.data.sampling import SkipPairs
from lnta.data.transforms import to_unit
from lnta.errors import ConfigError
from lnta.anomaly.settings import skip_set


class SkipFrame(PseudoAnomaly):
    """The input is the skip-frame clip, the target the consecutive clip from the same start.

    The index rule (s per sample, re-draw / clamp for short videos) is
    :func:`lnta.data.sampling.skip_clip_pair`; this type hands it to the dataset (:meth:`clip_rule`), which
    gathers both clips of every training item because it owns the frames. (Only a fraction p of them is
    used: which samples become pseudo anomalies is drawn batch-wise on the training device after the batch
    is made, as the reference draws it, and moving that draw into the dataset would change the draws.)
    """

    name = "skip"

    def __init__(self, p: float, skips: Sequence[int] = (2, 3, 4, 5), **kwargs):
        super().__init__(p, **kwargs)
        self.skips = skip_set("anomaly.skips", skips)

    def clip_rule(self) -> SkipPairs:
        return SkipPairs(tuple(self.skips))

    def forward(self, clips, batch, index):
        if "skip_clip" not in batch:
            raise ConfigError("the skip-frame anomaly needs skip clips from the data: build the data module with "
                              "clip_rules=[anomaly.clip_rule()] (python -m lnta.train does)")
        return to_unit(batch["skip_clip"][index]), to_unit(batch["skip_target"][index])
