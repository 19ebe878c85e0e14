"""File helpers of every package: atomic writes (a crash never leaves a truncated file that a later
run would trust), CSV tables, and the one filter for macOS metadata in listings and archives."""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Iterable, Mapping, Sequence


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: Path, data) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


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
