"""Fetch the benchmark datasets and the CIFAR-100 intruders from their official URLs, verified.

:data:`SOURCES` lists, for each name, the files to fetch: URL, size in bytes and checksums where
they are published (each with its source), the archive type and what to unpack where. The layout
lnta reads is the release layout itself (:mod:`lnta.data.layouts`), so archives are unpacked as
released, less a leading folder (``strip``) and, for UCSD, less Ped1 (``members``).

:func:`download` fetches each file into ``<root>/.downloads/<file>.part`` and resumes that file with
HTTP Range requests, after a broken connection and in a later run. A file is verified (published
size, SHA-256; where no SHA-256 is published, MD5 or the git blob id) before it is unpacked or moved
into ``root``. Archives are unpacked into a temporary folder inside ``root``, checked for the
expected release folders, then moved into place entry by entry, so a failure leaves nothing
half-unpacked. ``<root>/lnta_download.json`` records every file with its computed SHA-256.

Errors are one line (:class:`~lnta.errors.DataError`): a missing network names the URL, a bad
checksum names the file, the expected and the computed value.
"""
from __future__ import annotations

import dataclasses
import hashlib
import http.client
import json
import logging
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Mapping

from tqdm import tqdm

from lnta.errors import ConfigError, DataError
from lnta.io import is_macos_metadata, write_json

log = logging.getLogger("lnta.download")

RECORD = "lnta_download.json"
CHUNK = 1 << 20


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


class _Interrupted(Exception):
    """The connection broke during the transfer; the ``.part`` file keeps what arrived."""


def _digests(path: Path, progress: bool) -> dict[str, str]:
    """SHA-256, MD5 and git blob id of ``path`` in one pass."""
    size = path.stat().st_size
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    blob = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as f, tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024,
                                    desc=f"verifying {path.name}", disable=not progress, leave=False) as bar:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            for h in (sha256, md5, blob):
                h.update(chunk)
            bar.update(len(chunk))
    return {"sha256": sha256.hexdigest(), "md5": md5.hexdigest(), "git_blob": blob.hexdigest()}


def verify(path: Path, source: Source, progress: bool = True) -> dict:
    """Check ``path`` against the published size and checksums of ``source``.

    Returns the record of the file (bytes, computed SHA-256, how it was verified). Raises
    :class:`DataError` naming the file, the expected and the computed value on a mismatch.
    Where no SHA-256 is published, logs a one-line warning that it is not pinned.
    """
    size = path.stat().st_size
    if source.size is not None and size != source.size:
        raise DataError(f"{path}: size mismatch: expected {source.size} bytes, got {size}")
    digests = _digests(path, progress)
    checks = [("SHA-256", "sha256")] if source.sha256 else [("MD5", "md5"), ("git blob id", "git_blob")]
    verified_by = ["size"] if source.size is not None else []
    for label, key in checks:
        expected = getattr(source, key)
        if expected is None:
            continue
        if digests[key] != expected.lower():
            raise DataError(f"{path}: {label} mismatch: expected {expected}, got {digests[key]}")
        verified_by.append(label)
    if not source.sha256:
        how = " and ".join(verified_by) or "nothing (no size or checksum is published)"
        log.warning("%s: SHA-256 not pinned (none published), verified by %s; its SHA-256 is %s (recorded in %s)",
                    source.filename, how, digests["sha256"], RECORD)
    return {"url": source.url, "file": source.filename, "bytes": size, "sha256": digests["sha256"],
            "sha256_pinned": bool(source.sha256), "verified_by": verified_by}


def _total_from(response) -> int | None:
    """The full size of the remote file from a 200 or 206 response, if the server says."""
    if response.status == 206:
        content_range = response.headers.get("Content-Range", "")
        total = content_range.rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _transfer(source: Source, part: Path, final: Path, timeout: float, progress: bool) -> None:
    """Fetch ``source.url`` into ``part``, resuming from its current length with an HTTP Range request.

    Raises :class:`_Interrupted` when the connection breaks (``part`` keeps what arrived) and
    :class:`DataError` when the server cannot be reached or refuses.
    """
    have = part.stat().st_size if part.exists() else 0
    if source.size is not None and have > source.size:
        part.unlink()
        have = 0
    if source.size is not None and have == source.size:
        return
    request = urllib.request.Request(source.url, headers={"User-Agent": "lnta-download"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    kept = f"; the {have} bytes in {part} are kept for the next run" if have else ""
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) URLs of the table
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left past `have`: the part file is whole
            return
        raise DataError(f"{source.url}: HTTP {exc.code} {exc.reason}{kept}") from None
    except (OSError, http.client.HTTPException) as exc:  # URLError: no network, DNS, refused, timeout
        reason = getattr(exc, "reason", None) or exc
        raise DataError(f"{source.url}: cannot download ({reason}); check the network or proxy, or save the "
                        f"file as {final} and run again{kept}") from None
    with response:
        if have and response.status != 206:
            log.info("%s: the server does not resume downloads; starting again", source.url)
            have = 0
        total = _total_from(response)
        start = response.headers.get("Content-Range", "bytes 0-").split()[-1].split("-")[0]
        if response.status == 206 and start != str(have):
            raise DataError(f"{source.url}: the server resumed at byte {start}, not {have}; delete {part} "
                            "and run again")
        if source.size is not None and total is not None and total != source.size:
            part.unlink(missing_ok=True)
            raise DataError(f"{source.url}: the server sends {total} bytes, the published size is {source.size}")
        expected = source.size if source.size is not None else total
        if expected is not None:
            free = shutil.disk_usage(part.parent).free
            if free < expected - have:
                raise DataError(f"{part.parent}: {free} bytes free, the download needs {expected - have}")
        with part.open("ab" if have else "wb") as out, tqdm(
                total=expected, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                desc=source.filename, disable=not progress) as bar:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise _Interrupted(str(exc) or type(exc).__name__) from None
                if not chunk:
                    break
                out.write(chunk)
                bar.update(len(chunk))
    got = part.stat().st_size
    if expected is not None and got < expected:
        raise _Interrupted(f"the connection closed after {got} of {expected} bytes")


def fetch(source: Source, download_dir: Path, timeout: float = 60.0, retries: int = 3,
          progress: bool = True) -> tuple[Path, dict]:
    """The verified file ``download_dir/<filename>`` and its record (see :func:`verify`).

    A file already there (kept, or saved by hand) is verified and used; otherwise the URL is fetched
    into ``<filename>.part``, resumed up to ``retries`` times after a broken connection, verified,
    then renamed. A downloaded file that fails verification is deleted; one found there is kept.
    """
    final = download_dir / source.filename
    if final.exists():
        log.info("%s: using %s", source.filename, final)
        try:
            return final, verify(final, source, progress)
        except DataError as exc:
            raise DataError(f"{exc}; remove it or run again with force=true") from None
    download_dir.mkdir(parents=True, exist_ok=True)
    part = download_dir / f"{source.filename}.part"
    for attempt in range(retries + 1):
        try:
            _transfer(source, part, final, timeout, progress)
            break
        except _Interrupted as exc:
            have = part.stat().st_size if part.exists() else 0
            if attempt == retries:
                raise DataError(f"{source.url}: download interrupted ({exc}); run again to resume from "
                                f"the {have} bytes in {part}") from None
            log.warning("%s: %s; resuming from byte %d (try %d of %d)", source.filename, exc, have,
                        attempt + 1, retries)
            time.sleep(min(2 ** attempt, 30))
    os.replace(part, final)
    try:
        return final, verify(final, source, progress)
    except DataError as exc:
        final.unlink()
        raise DataError(f"{exc} (deleted; run again to download it anew)") from None


def _member_path(name: str) -> str | None:
    """A member name without ``./``, or None for macOS metadata (``__MACOSX/``, ``._*``)."""
    path = PurePosixPath(name)
    parts = [p for p in path.parts if p != "."]
    if not parts or is_macos_metadata(PurePosixPath(*parts)):
        return None
    return "/".join(parts)


def _wanted(name: str, source: Source) -> bool:
    if not name.startswith(source.strip) or name == source.strip.rstrip("/"):
        return False
    rel = name[len(source.strip):]
    return not source.members or any(rel == m.rstrip("/") or rel.startswith(m) for m in source.members)


def _check_safe(name: str, archive: Path) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise DataError(f"{archive}: unsafe member path {name!r} (absolute or with ..); not unpacked")


def _extract(archive: Path, source: Source, into: Path, progress: bool) -> None:
    """Unpack the wanted members of ``archive`` below ``into`` (names kept, ``strip`` included)."""
    bar = tqdm(desc=f"unpacking {archive.name}", unit=" files", disable=not progress)
    try:
        if source.archive == "zip":
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    name = _member_path(info.filename)
                    if name is None or not _wanted(name, source):
                        continue
                    _check_safe(info.filename, archive)
                    zf.extract(info, into)
                    bar.update()
        elif source.archive == "tar.gz":
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            with tarfile.open(archive, "r:*") as tf:
                for member in tf:
                    name = _member_path(member.name)
                    if name is None or not _wanted(name, source):
                        continue
                    _check_safe(member.name, archive)
                    if member.issym() or member.islnk():
                        _check_safe(member.linkname, archive)
                    tf.extract(member, into, **safe)
                    bar.update()
        else:
            raise ConfigError(f"{source.filename}: unknown archive type {source.archive!r} (tar.gz, zip, file)")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataError(f"{archive}: cannot unpack ({exc})") from None
    finally:
        bar.close()


def _install(path: Path, source: Source, root: Path, force: bool, progress: bool) -> list[str]:
    """Put the verified ``path`` into ``root``: unpacked into a temporary folder, checked, then moved.

    Returns the names it placed in ``root``. An existing entry is replaced only with ``force``.
    """
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".unpacking-{source.filename}-*"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".unpacking-{source.filename}-"))
    try:
        if source.archive == "file":
            shutil.copyfile(path, tmp / source.filename)
            content = tmp
        else:
            _extract(path, source, tmp, progress)
            content = tmp / source.strip if source.strip else tmp
            if not content.is_dir():
                held = ", ".join(sorted(p.name for p in tmp.iterdir())) or "nothing that is wanted"
                raise DataError(f"{path}: no folder {source.strip!r} in the archive (it holds {held}); "
                                "expected the official release")
        missing = [e for e in source.expect if not (content / e).exists()]
        if missing:
            raise DataError(f"{path}: unpacked, but {missing[0]} is missing (expected {', '.join(source.expect)}); "
                            "expected the official release")
        entries = sorted(content.iterdir())
        taken = [root / e.name for e in entries if (root / e.name).exists() or (root / e.name).is_symlink()]
        if taken and not force:
            raise DataError(f"{taken[0]}: already exists and was not placed by this download; move it away "
                            "or run again with force=true to replace it")
        for entry in entries:
            dest = root / entry.name
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            elif dest.exists() or dest.is_symlink():
                dest.unlink()
            os.replace(entry, dest)
        return [e.name for e in entries]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_record(root: Path) -> dict:
    try:
        return json.loads((root / RECORD).read_text())
    except (OSError, ValueError):
        return {}


def _installed(entry: dict, source: Source, root: Path) -> bool:
    """Whether ``entry`` of the record shows ``source`` in place: the pinned SHA-256 (any mirror),
    else the same URL, and its outputs exist."""
    same = entry.get("sha256") == source.sha256 if source.sha256 else entry.get("url") == source.url
    return same and all((root / p).exists() for p in source.outputs)


def download(name: str, root: str | Path | None = None, data_dir: str | Path = "data",
             labels_only: bool = False, force: bool = False, keep_archives: bool = False,
             download_dir: str | Path | None = None, timeout: float = 60.0, retries: int = 3,
             progress: bool = True, sources: Mapping | None = None) -> Path:
    """Fetch, verify and unpack the dataset ``name`` (a key of :data:`SOURCES`) into ``root``.

    ``root`` defaults to ``data_dir/<folder>``, the path that ``data.root`` (or, for cifar100,
    ``anomaly.intruder.path``) reads by default. ``labels_only``: only the label files. ``force``:
    fetch again and replace what is there. ``download_dir`` (default ``root/.downloads``) holds the
    ``.part`` files and, with ``keep_archives``, the verified archives. ``timeout`` in seconds per
    read; ``retries``: resumes within this run. ``sources``: overrides of the table (see
    :func:`dataset_sources`). Returns ``root``; its ``lnta_download.json`` records each file.
    """
    dataset = dataset_sources(name, sources)
    root = Path(root if root is not None else Path(data_dir) / dataset.folder).expanduser()
    downloads = Path(download_dir).expanduser() if download_dir is not None else root / ".downloads"
    if retries < 0 or timeout <= 0:
        raise ConfigError(f"retries={retries}, timeout={timeout}: expected retries >= 0 and timeout > 0")
    wanted = {k: s for k, s in dataset.files.items() if s.labels or not labels_only}
    if not wanted:
        raise ConfigError(f"labels_only=true: {name} has no label files")
    created = [p for p in (root, downloads) if not p.exists()]
    record = _read_record(root)
    record.setdefault("files", {})
    record["name"] = name
    try:
        for key, source in wanted.items():
            if not force and _installed(record["files"].get(key, {}), source, root):
                log.info("%s: already in %s (force=true to fetch it again)", source.filename, root)
                continue
            if force:
                for stale in (downloads / source.filename, downloads / f"{source.filename}.part"):
                    stale.unlink(missing_ok=True)
            path, entry = fetch(source, downloads, timeout, retries, progress)
            entry["placed"] = _install(path, source, root, force or key in record["files"], progress)
            if not keep_archives:
                path.unlink()
            record["files"][key] = entry
            write_json(root / RECORD, record)
            log.info("%s: verified (%s) and placed in %s", source.filename, ", ".join(entry["verified_by"]), root)
    finally:
        for folder in reversed(created):  # leave nothing behind a failed first run
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    log.info("%s ready in %s (%s). Next: %s", name, root, dataset.layout, dataset.use.format(root=root))
    return root
