"""Load an experiment's script (not a package module) by its path, for the tests of its pure parts."""
from __future__ import annotations

import importlib.util
from pathlib import Path


def load_script(path: Path, name: str):
    """The module of the Python file ``path``, imported under ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
