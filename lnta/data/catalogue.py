"""The catalogue of downloadable datasets: for each name, the files to fetch from their official URLs.

:data:`SOURCES` lists, for each name, the files to fetch: URL, size in bytes and checksums where
they are published (each with its source), the archive type and what to unpack where. The layout
lnta reads is the release layout itself (:mod:`lnta.data.labels.layouts`), so archives are unpacked as
released, less a leading folder (``strip``) and, for UCSD, less Ped1 (``members``). Fetching,
verifying and unpacking are :mod:`lnta.data.fetch`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from lnta.errors import ConfigError

@dataclass(frozen=True)
class Source:
    """One file of a dataset.

    ``size`` (bytes), ``sha256``, ``md5`` and ``git_blob`` (GitHub's blob id, the SHA-1 of
    ``b"blob <size>\\0" + content``) are the published values, None where none is published.
    ``archive``: ``tar.gz``, ``zip`` or ``file`` (copied into ``root`` as ``filename``).
    ``strip``: the archive's leading folder, dropped when unpacking; ``members``: only these paths
    (below ``strip``) are unpacked, all when empty; ``expect``: paths that the unpacked release must
    hold, relative to ``root``. ``labels``: a label file, fetched by ``labels_only`` too.
    """

    url: str
    filename: str
    size: int | None
    sha256: str | None
    md5: str | None = None
    git_blob: str | None = None
    archive: str = "file"
    strip: str = ""
    members: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()
    labels: bool = False

    @property
    def outputs(self) -> tuple[str, ...]:
        """Paths under ``root`` that show this file is installed."""
        return (self.filename,) if self.archive == "file" else self.expect


@dataclass(frozen=True)
class Dataset:
    """A downloadable name: ``folder`` is the default root below ``paths.data_dir``; ``layout`` and
    ``use`` (with ``{root}``) are printed when it is ready."""

    folder: str
    layout: str
    use: str
    files: dict[str, Source]


# Frame labels of the common frames layout, as most published numbers use them: MNAD (Park et al.,
# CVPR 2020), pinned to a commit. Size and git blob id are those of that commit's tree (published by
# GitHub); no SHA-256 is published for them.
_MNAD = "https://raw.githubusercontent.com/cvlab-yonsei/MNAD/4e108a898605d1fef2dec42a1bbd407cd5062e25/data/"

SOURCES: dict[str, Dataset] = {
    "ped2": Dataset(
        folder="ped2",
        layout="UCSD release: UCSDped2/Train, UCSDped2/Test with UCSDped2.m frame labels and TestNNN_gt pixel masks",
        use="python -m lnta.train +experiment=ped2_skip data.root={root}",
        files={
            "archive": Source(
                # Official page http://www.svcl.ucsd.edu/projects/anomaly/dataset.html; Ped1 and Ped2.
                url="http://www.svcl.ucsd.edu/projects/anomaly/UCSD_Anomaly_Dataset.tar.gz",
                filename="UCSD_Anomaly_Dataset.tar.gz",
                size=None,  # not published
                # anomalib (openvinotoolkit), src/anomalib/data/datamodules/video/ucsd_ped.py, DOWNLOAD_INFO.hashsum
                sha256="2329af326951f5097fdd114c50e853957d3e569493a49d22fc082a9fd791915b",
                md5="5006421b89885f45a6f93b041145f2eb",  # anomalib <= 1.0, same file, DOWNLOAD_INFO.hash
                archive="tar.gz", strip="UCSD_Anomaly_Dataset.v1p2/", members=("UCSDped2/", "README.txt"),
                expect=("UCSDped2/Train", "UCSDped2/Test", "UCSDped2/Test/UCSDped2.m")),
            "frame_labels": Source(
                url=_MNAD + "frame_labels_ped2.npy", filename="frame_labels_ped2.npy",
                size=16208, sha256=None,  # size from the commit's tree; no SHA-256 published
                git_blob="480a8acad82de42e11b9c171252e7ecbc05954a8", labels=True),
        }),
    "avenue": Dataset(
        folder="avenue",
        layout="Avenue release: training_videos, testing_videos, ground_truth_demo/testing_label_mask "
               "pixel masks, frame_labels_avenue.npy",
        use="python -m lnta.train +experiment=avenue_skip data.root={root}",
        files={
            "archive": Source(
                # Official page http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/dataset.html
                url="http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/Avenue_Dataset.zip",
                filename="Avenue_Dataset.zip",
                size=None,  # not published
                # anomalib, src/anomalib/data/datamodules/video/avenue.py, DATASET_DOWNLOAD_INFO.hashsum
                sha256="fc9cb8432a11ca79c18aa180c72524011411b69d3b0ff27c8816e41c0de61531",
                md5="b7a34b212ecdd30efbd989a6dcb1aceb",  # anomalib <= 1.0, DATASET_DOWNLOAD_INFO.hash
                archive="zip", strip="Avenue Dataset/", expect=("training_videos", "testing_videos")),
            "ground_truth": Source(
                url="http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/ground_truth_demo.zip",
                filename="ground_truth_demo.zip",
                size=None,  # not published
                # anomalib, avenue.py, ANNOTATIONS_DOWNLOAD_INFO.hashsum
                sha256="60fec1728ec8f73a58aad3aeb5729d70a805a47e0b8eb4bf91ab67ef06386d77",
                md5="e8e3bff99195b6b511534083b9dbe1f5",  # anomalib <= 1.0, ANNOTATIONS_DOWNLOAD_INFO.hash
                archive="zip", members=("ground_truth_demo/",),
                expect=("ground_truth_demo/testing_label_mask",), labels=True),
            "frame_labels": Source(
                url=_MNAD + "frame_labels_avenue.npy", filename="frame_labels_avenue.npy",
                size=15452, sha256=None,  # size from the commit's tree; no SHA-256 published
                git_blob="c6696ee9e49cdc37a0cf8c830f4631a55b79ae5c", labels=True),
        }),
    "shanghaitech": Dataset(
        folder="shanghaitech",
        layout="ShanghaiTech release: training/videos, testing/frames, testing/test_frame_mask",
        use="python -m lnta.prepare data=shanghaitech data.root={root}  (then lnta.train +experiment=shanghaitech_skip)",
        files={
            "archive": Source(
                # The direct archive URL that anomalib uses. The official page
                # https://svip-lab.github.io/dataset/campus_dataset.html links to a download listing
                # (http://download.impersonator.org:8181/dataset/ShanghaiTech/) and, earlier, OneDrive.
                url="http://101.32.75.151:8181/dataset/shanghaitech.tar.gz",
                filename="shanghaitech.tar.gz",
                size=None,  # not published
                # anomalib, src/anomalib/data/datamodules/video/shanghaitech.py, DATASET_DOWNLOAD_INFO.hashsum
                sha256="c13a827043b259ccf8493c9d9130486872992153a9d714fe229e523cd4c94116",
                md5="08494decd30fb0fa213b519a9c555040",  # anomalib <= 1.0, DATASET_DOWNLOAD_INFO.hash
                archive="tar.gz", strip="shanghaitech/", expect=("training/videos", "testing/frames")),
            "frame_labels": Source(
                url=_MNAD + "frame_labels_shanghai.npy", filename="frame_labels_shanghai.npy",
                size=40919, sha256=None,  # size from the commit's tree; no SHA-256 published
                git_blob="bc2d97e6cb7153d4f40cc21dd9240c1d9e2e142c", labels=True),
        }),
    "cifar100": Dataset(
        folder="cifar-100-python",
        layout="CIFAR-100 python release: train, test, meta pickles",
        use="python -m lnta.train +experiment=ped2_patch +intruder=cifar100 anomaly.intruder.path={root}",
        files={
            "archive": Source(
                # Official page https://www.cs.toronto.edu/~kriz/cifar.html (publishes the MD5)
                url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                filename="cifar-100-python.tar.gz",
                size=169001437,  # bytes, as Keras' and torchvision's download progress report it
                # keras.datasets.cifar100.load_data(file_hash=...); torchvision.prototype Cifar100._SHA256
                sha256="85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
                md5="eb9058c3a382ffc7106e4002c42a8d85",  # the official page
                archive="tar.gz", strip="cifar-100-python/", expect=("train", "test", "meta")),
        }),
}

_OVERRIDABLE = ("url", "size", "sha256", "md5", "git_blob")


def dataset_sources(name: str, overrides: Mapping | None = None) -> Dataset:
    """The :data:`SOURCES` entry ``name``, with fields of its files replaced by ``overrides``
    (``{name: {file: {url|size|sha256|md5|git_blob: value}}}``, e.g. a mirror)."""
    if name not in SOURCES:
        raise ConfigError(f"download name={name}: expected one of {', '.join(SOURCES)} "
                          "(python -m lnta.download ped2)")
    dataset = SOURCES[name]
    unknown = sorted(set(overrides or {}) - set(SOURCES))
    if unknown:
        raise ConfigError(f"sources.{unknown[0]}: no such download name (expected {', '.join(SOURCES)})")
    files = dict(dataset.files)
    for key, fields in dict((overrides or {}).get(name) or {}).items():
        if key not in files:
            raise ConfigError(f"sources.{name}.{key}: no such file (expected {', '.join(files)})")
        bad = sorted(set(fields) - set(_OVERRIDABLE))
        if bad:
            raise ConfigError(f"sources.{name}.{key}.{bad[0]}: cannot be changed (expected {', '.join(_OVERRIDABLE)})")
        files[key] = dataclasses.replace(files[key], **{
            field: _override_value(f"sources.{name}.{key}.{field}", field, value) for field, value in fields.items()})
    return dataclasses.replace(dataset, files=files)


_HEX_LENGTH = {"sha256": 64, "md5": 32, "git_blob": 40}


def _override_value(setting: str, field: str, value):
    """``value`` as the type of ``field``; a digest that the command line read as a number (all
    digits) is taken back as text when its length fits, and refused otherwise."""
    if value is None or field == "url":
        return value if value is None else str(value)
    if field == "size":
        if isinstance(value, bool) or not str(value).isdigit():
            raise ConfigError(f"{setting}={value}: expected a size in bytes")
        return int(value)
    text = str(value).lower()
    if len(text) != _HEX_LENGTH[field] or any(c not in "0123456789abcdef" for c in text):
        raise ConfigError(f"{setting}={value}: expected {_HEX_LENGTH[field]} hex digits (quote it if it starts with 0)")
    return text


def download_hint(name: str, root: Path) -> str:
    """`` (get it with: python -m lnta.download NAME root=ROOT)`` for a name of :data:`SOURCES`, else ''."""
    return f" (get it with: python -m lnta.download {name} root={root})" if name in SOURCES else ""


