"""Pseudo anomalies: the loss switch, patch and skip-frame types, intruder sources."""
from lnta.anomaly.augment import PatchMix3D
from lnta.anomaly.base import PseudoAnomaly
from lnta.anomaly.intruders.sources import build_intruders
from lnta.anomaly.patch import PatchAnomaly
from lnta.anomaly.skip import SkipFrame
from lnta.anomaly.switch import assign_types

__all__ = ["PseudoAnomaly", "PatchAnomaly", "PatchMix3D", "SkipFrame", "assign_types", "build_intruders"]
