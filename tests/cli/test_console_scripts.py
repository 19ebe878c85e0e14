"""The README's commands: every console script of pyproject.toml is installed next to the venv's python."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def test_every_console_script_is_on_the_venv_path():
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    bindir = Path(sys.executable).parent
    if not (bindir / "activate").is_file():
        pytest.skip(f"{sys.executable} is not a venv's python")
    missing = [name for name in scripts if not (bindir / name).is_file()]
    assert not missing, f"not installed in {bindir}: {missing} (run make install)"
    assert "lnta-train" in scripts and "lnta-report" in scripts


@pytest.mark.slow
def test_console_script_runs_without_activating_the_venv(tmp_path):
    """``.venv/bin/lnta-report --help`` works from a shell whose PATH does not hold the venv."""
    script = Path(sys.executable).parent / "lnta-report"
    if not script.is_file():
        pytest.skip(f"{script} is not installed")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: python -m lnta.report" in result.stdout
