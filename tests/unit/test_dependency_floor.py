"""tests/floor.txt pins, for every dependency of pyproject.toml, the oldest release its range admits, so that
`make test-floor` tests the floor the ranges promise (it once promised torch 2.4 and Lightning 2.4 while the
code called a function torch 2.4 lacks and the tests an argument Lightning 2.4 lacks: found by running them,
2026-12-06)."""
from __future__ import annotations

import sys

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import REPO

tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")  # Python 3.10: tomli


def floors(requirements: list[str]) -> dict[str, Version]:
    """``{name: X}`` of each ``name>=X`` requirement."""
    out = {}
    for text in requirements:
        req = Requirement(text)
        low = [Version(s.version) for s in req.specifier if s.operator == ">="]
        assert low, f"pyproject.toml: {text!r} has no >= floor"
        out[canonicalize_name(req.name)] = max(low)
    return out


def pins(lines: list[str]) -> dict[str, Version]:
    """``{name: V}`` of each ``name==V`` line (comments and other specifiers skipped)."""
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            req = Requirement(line)
            out[canonicalize_name(req.name)] = Version(next(iter(req.specifier)).version)
    return out


def test_the_readers_find_floors_and_pins():
    assert floors(["torch>=2.4,<2.15", "decord>=0.6; platform_machine == 'x86_64'"]) == \
        {"torch": Version("2.4"), "decord": Version("0.6")}
    assert pins(["# note", "Pillow==10.1.0", "pytest>=8", ""]) == {"pillow": Version("10.1.0")}


def test_every_dependency_is_pinned_at_its_floor():
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    floor, pinned = floors(dependencies), pins((REPO / "tests" / "floor.txt").read_text().splitlines())
    assert set(pinned) == set(floor)
    for name, low in floor.items():
        version = pinned[name]
        # the oldest release of the floor's series: 2.4 -> 2.4.x, never 2.5 (a later series hides a broken floor)
        assert version >= low and version.release[:len(low.release)] == low.release, (name, str(low), str(version))
        assert Requirement(next(d for d in dependencies if canonicalize_name(Requirement(d).name) == name)) \
            .specifier.contains(version), (name, str(version))
