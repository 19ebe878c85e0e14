"""Published video counts and frame counts of the benchmarks, checked where a dataset is recognised."""
from __future__ import annotations

import logging

from lnta.errors import DataError

log = logging.getLogger(__name__)

#: per dataset and split: the number of videos and, where published, each video's frame count
KNOWN: dict[str, dict[str, dict]] = {
    "ped2": {
        "train": {"videos": 16, "lengths": [120, 150, 150, 180, 180, 150, 150, 120, 180, 180, 180, 180,
                                            180, 150, 150, 150]},
        "test": {"videos": 12, "lengths": [180, 180, 150, 180, 150, 180, 180, 180, 120, 150, 180, 180]},
    },
    "avenue": {
        "train": {"videos": 16},
        "test": {"videos": 21, "lengths": [1439, 1211, 923, 947, 1007, 1283, 605, 36, 1175, 841, 472, 1271,
                                           549, 507, 1001, 740, 426, 294, 248, 273, 76]},
    },
    "shanghaitech": {
        "train": {"videos": 330},
        "test": {"videos": 107, "frames": 40791},
    },
}


def check_known(name: str, split: str, names: list[str], lengths: list[int], where: str) -> bool:
    """Check a split against the published counts; returns whether the dataset was recognised.

    A dataset is recognised by its ``name`` and its number of videos; a subset (fewer videos, e.g. a
    test fixture) is only logged, since its labels are still checked video by video.
    """
    known = KNOWN.get(name, {}).get(split)
    if known is None:
        return False
    if len(names) != known["videos"]:
        log.warning("%s: %d %s videos, the full %s has %d; published frame counts not checked",
                    where, len(names), split, name, known["videos"])
        return False
    for video, length, expected in zip(names, lengths, known.get("lengths", [])):
        if length != expected:
            raise DataError(f"{where}: {name} {split} video {video} has {length} frames, the published "
                            f"count is {expected}")
    if "frames" in known and sum(lengths) != known["frames"]:
        raise DataError(f"{where}: {name} {split} has {sum(lengths)} frames, the published count is "
                        f"{known['frames']}")
    return True
