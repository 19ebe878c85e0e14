"""The numpy floor of pyproject.toml holds for the code: no numpy-2-only name while the floor is below 2.0 (the
suite once used ``np.trapezoid`` under ``numpy>=1.24``), and no name numpy 2.0 removed (the newest numpy is
allowed too). A source scan, so it guards the versions this machine does not have installed."""
from __future__ import annotations

import re

from tests.conftest import REPO

#: added in numpy 2.0 (``np.bool`` was removed in 1.24 and came back in 2.0)
NUMPY2_ONLY = ("trapezoid", "concat", "permute_dims", "unstack", "cumulative_sum", "cumulative_prod", "isdtype",
               "bitwise_count", "matrix_transpose", "vecdot", "vecmat", "matvec", "pow", "acos", "asin", "atan",
               "atan2", "acosh", "asinh", "atanh", "bitwise_left_shift", "bitwise_right_shift", "bitwise_invert",
               "bool", "astype", "unique_values", "unique_counts", "unique_inverse", "unique_all", "strings")
#: removed in numpy 2.0
REMOVED_IN_NUMPY2 = ("product", "cumproduct", "alltrue", "sometrue", "float_", "complex_", "NaN", "Inf", "infty",
                     "NINF", "PINF", "string_", "unicode_", "round_", "asfarray", "find_common_type", "cast",
                     "msort", "row_stack", "trapz", "in1d")
SOURCES = ("lnta", "tests", "experiments")


def numpy_floor() -> tuple[int, int]:
    """(major, minor) of the ``numpy>=X.Y`` requirement in pyproject.toml."""
    found = re.search(r'"numpy>=(\d+)\.(\d+)', (REPO / "pyproject.toml").read_text())
    assert found, "pyproject.toml: no numpy>=X.Y requirement"
    return int(found.group(1)), int(found.group(2))


def uses(text: str, names) -> list[str]:
    """The ``np.NAME`` / ``numpy.NAME`` uses of ``names`` in ``text``."""
    pattern = re.compile(r"\b(?:np|numpy)\.(" + "|".join(map(re.escape, names)) + r")\b(?!_)")
    return [m.group(0) for m in pattern.finditer(text)]


def test_the_scan_finds_what_it_looks_for():
    assert uses("a = np.trapezoid(y, x); b = numpy.bool(1); c = np.bool_(1)", NUMPY2_ONLY) == \
        ["np.trapezoid", "numpy.bool"]
    assert uses("np.trapz(y) + np.product(x) + np.prod(x)", REMOVED_IN_NUMPY2) == ["np.trapz", "np.product"]


def test_sources_keep_to_the_numpy_range_pyproject_allows():
    names = REMOVED_IN_NUMPY2 + (NUMPY2_ONLY if numpy_floor() < (2, 0) else ())
    this = (REPO / __file__).resolve()
    found = [f"{path.relative_to(REPO)}: {use}" for folder in SOURCES for path in sorted((REPO / folder).rglob("*.py"))
             if path.resolve() != this for use in uses(path.read_text(errors="replace"), names)]
    assert not found, f"numpy>={'.'.join(map(str, numpy_floor()))} (pyproject.toml) lacks these: {found}"
