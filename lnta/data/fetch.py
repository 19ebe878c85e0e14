"""Fetch the files of a :mod:`lnta.data.catalogue` entry, verified, and unpack them into place.

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
from pathlib import Path, PurePosixPath
from typing import Mapping

from tqdm import tqdm

from lnta.data.catalogue import Source, dataset_sources
from lnta.errors import ConfigError, DataError
from lnta.io import is_macos_metadata, write_json

log = logging.getLogger("lnta.download")

RECORD = "lnta_download.json"
CHUNK = 1 << 20


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
