"""Published video counts and frame counts of the benchmarks, checked where a dataset is recognised."""
from __future__ import annotations

import logging

from lnta.errors import DataError

log = logging.getLogger(__name__)

#: ShanghaiTech Campus test videos, ``name:frames`` in sorted name order (the order of the published
#: concatenated label file, 40791 frames)
_SHANGHAITECH_TEST = """
    01_0014:265 01_0015:433 01_0016:337 01_0025:601 01_0026:505 01_0027:409 01_0028:457 01_0029:313
    01_0030:409 01_0051:337 01_0052:337 01_0053:457 01_0054:577 01_0055:313 01_0056:529 01_0063:193
    01_0064:289 01_0073:289 01_0076:265 01_0129:241 01_0130:337 01_0131:289 01_0132:265 01_0133:217
    01_0134:433 01_0135:409 01_0136:529 01_0138:313 01_0139:217 01_0140:241 01_0141:313 01_0162:193
    01_0163:265 01_0177:317 02_0128:457 02_0161:337 02_0164:361 03_0031:529 03_0032:409 03_0033:313
    03_0035:385 03_0036:457 03_0039:481 03_0041:457 03_0059:433 03_0060:385 03_0061:241 04_0001:553
    04_0003:937 04_0004:865 04_0010:505 04_0011:313 04_0012:361 04_0013:361 04_0046:529 04_0050:337
    05_0017:433 05_0018:481 05_0019:649 05_0020:649 05_0021:409 05_0022:337 05_0023:769 05_0024:433
    06_0144:241 06_0145:217 06_0147:265 06_0150:265 06_0153:217 06_0155:265 07_0005:409 07_0006:385
    07_0007:481 07_0008:457 07_0009:313 07_0047:601 07_0048:241 07_0049:481 08_0044:313 08_0058:337
    08_0077:457 08_0078:217 08_0079:241 08_0080:289 08_0156:337 08_0157:313 08_0158:337 08_0159:265
    08_0178:265 08_0179:337 09_0057:361 10_0037:433 10_0038:241 10_0042:433 10_0074:601 10_0075:505
    11_0176:337 12_0142:601 12_0143:265 12_0148:313 12_0149:241 12_0151:289 12_0152:361 12_0154:385
    12_0173:217 12_0174:337 12_0175:265
"""
_SHANGHAITECH_NAMES, _SHANGHAITECH_LENGTHS = zip(*((n, int(c)) for n, c in (
    item.split(":") for item in _SHANGHAITECH_TEST.split())))

#: per dataset and split: the number of videos and, where published, each video's name and frame count
#: (in the order that the published concatenated label files follow)
KNOWN: dict[str, dict[str, dict]] = {
    "ped2": {
        "train": {"videos": 16, "lengths": [120, 150, 150, 180, 180, 150, 150, 120, 180, 180, 180, 180,
                                            180, 150, 150, 150]},
        "test": {"videos": 12, "lengths": [180, 180, 150, 180, 150, 180, 180, 180, 120, 150, 180, 180]},
    },
    "avenue": {
        "train": {"videos": 16},
        "test": {"videos": 21, "names": [f"{v:02d}" for v in range(1, 22)], "lengths": [1439, 1211, 923, 947, 1007, 1283, 605, 36, 1175, 841, 472, 1271,
                                           549, 507, 1001, 740, 426, 294, 248, 273, 76]},
    },
    "shanghaitech": {
        "train": {"videos": 330},
        "test": {"videos": 107, "frames": 40791, "names": list(_SHANGHAITECH_NAMES),
                 "lengths": list(_SHANGHAITECH_LENGTHS)},
    },
}

#: Where frame labels derived from a dataset's pixel masks differ from those its published numbers use.
MASK_LABEL_NOTES = {
    "avenue": ("published Avenue numbers use the interval labels (frame_labels_avenue.npy, avenue.mat), which "
               "differ from the mask-derived ones on 441 of 15324 frames; for comparable numbers set "
               "data.labels=PATH/frame_labels_avenue.npy"),
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
