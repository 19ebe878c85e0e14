"""Atomic file writes: a crash never leaves a truncated file that a later run would trust."""
from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


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
