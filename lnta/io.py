"""File helpers of every package: atomic writes (a crash never leaves a truncated file that a later
run would trust), strict JSON, CSV tables, outputs written as a set, and the one filter for macOS
metadata in listings and archives.

Files written here get the mode an ordinary ``open`` would give them (``0o666`` less the umask),
not the ``0o600`` of :func:`tempfile.mkstemp`; a full disk is one line naming the file.
"""
from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import re
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Iterable, Mapping, Sequence

from lnta.errors import LntaError

#: Error numbers that mean the file system is full (or the user's quota is).
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class NoSpaceLeft(LntaError):
    """The disk (or quota) filled up while an output was written; the previous file is unchanged."""


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux), else set and restored."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (also when it belongs to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _disk_full(exc: BaseException, folder: Path) -> bool:
    """Whether ``exc`` means that ``folder``'s file system is full. ``torch.save`` reports a failed
    write as a RuntimeError ("unexpected pos"), so a write error on a (nearly) full disk counts too."""
    if isinstance(exc, OSError) and exc.errno in NO_SPACE:
        return True
    if isinstance(exc, (OSError, RuntimeError)):
        try:
            return shutil.disk_usage(folder).free < 1 << 20
        except OSError:
            return False
    return False


def _owner() -> str:
    """What names this process's temporary files and folders: ``<host>-<pid>``, so that a later process
    can tell the ones of a killed process (:func:`remove_stale_temporaries`)."""
    return f"{socket.gethostname()}-{os.getpid()}"


_TEMPORARY = re.compile(r"(?P<host>.+)-(?P<pid>\d+)-[^-/]+(?:\.tmp)?")


def remove_stale_temporaries(folder: Path, prefix: str) -> list[Path]:
    """Remove the temporary files and folders ``<prefix><host>-<pid>-<random>[.tmp]`` in ``folder`` that
    a process on this host left when it was killed (its pid is gone): what :func:`atomic_path` and
    :func:`staged_outputs` write and name as lnta's own. Others' files, and those of live processes or
    other hosts, are kept. Returns what was removed."""
    removed = []
    try:
        entries = [e for e in Path(folder).iterdir() if e.name.startswith(prefix)]
    except OSError:
        return removed
    host = socket.gethostname()
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name[len(prefix):])
        if not match or match["host"] != host or int(match["pid"]) == os.getpid() or pid_alive(int(match["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds.

    The new file gets mode ``0o666 & ~umask``. A full disk raises :class:`NoSpaceLeft` naming
    ``path``; the temporary file is removed and the previous ``path`` is unchanged either way.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, f".{path.name}.")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{_owner()}-", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except Exception as exc:
        if _disk_full(exc, path.parent):
            raise NoSpaceLeft(f"{path}: no space left on device while writing it; the previous version is "
                              "unchanged; free some space (or choose another output dir) and run again") from None
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


@contextmanager
def staged_outputs(out: Path, last: tuple[str, ...] = ()):
    """Write a command's set of outputs as one: yield an empty staging folder inside ``out``; when
    the block succeeds, each of its top-level files and folders replaces the one of the same name
    in ``out`` (a folder as a whole, so no file of an older set survives inside it), the names in
    ``last`` at the end (the set's completion marker). If the block fails, the staging folder is
    removed and ``out`` keeps the previous complete set.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out, ".staging-")
    stage = Path(tempfile.mkdtemp(dir=out, prefix=f".staging-{_owner()}-"))
    os.chmod(stage, 0o777 & ~current_umask())
    try:
        yield stage
        entries = sorted(stage.iterdir(), key=lambda p: (p.name in last, last.index(p.name) if p.name in last else 0,
                                                         p.name))
        for entry in entries:
            target = out / entry.name
            if entry.is_dir() and target.is_dir():
                old = Path(tempfile.mkdtemp(dir=out, prefix=f".old-{entry.name}-"))
                os.replace(target, old / entry.name)
                os.replace(entry, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(entry, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def json_safe(data):
    """``data`` with every NaN or infinite float replaced by None (JSON ``null``), NumPy scalars and
    arrays turned into Python numbers and lists, tuples into lists: what strict JSON can hold."""
    if isinstance(data, dict):
        return {str(k): json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    if hasattr(data, "tolist") and not isinstance(data, (str, bytes)):  # NumPy scalars and arrays
        return json_safe(data.tolist())
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


def json_text(data) -> str:
    """Strict JSON (RFC 8259) of ``data``: undefined numbers (NaN, inf) are written as ``null``,
    never as the bare ``NaN`` that JavaScript's ``JSON.parse`` and other strict parsers reject."""
    return json.dumps(json_safe(data), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(path: Path, data) -> None:
    """Write :func:`json_text` of ``data`` atomically."""
    write_text(path, json_text(data))


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence | Mapping]) -> None:
    """Write a CSV table atomically: a header of ``columns``, then one line per row, each a sequence in
    column order or a mapping by column name (a missing column is empty, other keys are ignored);
    ``\\n`` line ends, values as ``str`` (None empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns] if isinstance(row, Mapping) else row)
    write_text(path, buffer.getvalue())


def is_macos_metadata(path: PurePath | str) -> bool:
    """Whether ``path`` (relative to the folder or archive being listed) is macOS metadata: an
    AppleDouble ``._*`` file or anything inside a ``__MACOSX/`` folder."""
    parts = PurePath(path).parts
    return bool(parts) and (parts[-1].startswith("._") or "__MACOSX" in parts)
