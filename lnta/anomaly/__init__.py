"""Pseudo anomalies: the loss switch, patch, skip-frame and temporal types, intruder sources."""
from lnta.anomaly.augment import PatchMix3D
from lnta.anomaly.base import PseudoAnomaly
from lnta.anomaly.intruders.sources import build_intruders
from lnta.anomaly.intruders.noise import NoiseBank
from lnta.anomaly.patch import PatchAnomaly
from lnta.anomaly.skip import SkipFrame
from lnta.anomaly.switch import assign_types
from lnta.anomaly.temporal import RepeatFrames, ReverseClip, ShuffleClip

__all__ = ["PseudoAnomaly", "PatchAnomaly", "PatchMix3D", "SkipFrame", "ReverseClip", "RepeatFrames", "ShuffleClip",
           "NoiseBank", "assign_types", "build_intruders"]
