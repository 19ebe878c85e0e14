"""lnta.io: strict JSON (null for undefined numbers), atomic writes, the CSV writer every table uses."""
import errno
import json
import math
import os
import socket
import stat
import subprocess
import sys

import numpy as np
import pytest

from lnta.io import NoSpaceLeft, atomic_path, json_text, staged_outputs, write_csv, write_json, write_text
from tests.conftest import REPO


def _strict(text):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def test_undefined_numbers_are_null_at_any_depth(tmp_path):
    data = {"auc_micro": 0.8, "auc_per_video": {"01": math.nan, "02": 0.7}, "rates": [math.inf, -math.inf, 1.0],
            "numpy": np.float64("nan"), "count": np.int64(3), "array": np.array([1.5, np.nan])}
    write_json(tmp_path / "m.json", data)
    parsed = _strict((tmp_path / "m.json").read_text())
    assert parsed == {"auc_micro": 0.8, "auc_per_video": {"01": None, "02": 0.7}, "rates": [None, None, 1.0],
                      "numpy": None, "count": 3, "array": [1.5, None]}


def test_text_is_stable_and_ends_with_a_newline():
    assert json_text({"b": 1, "a": (1, 2)}) == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'


def test_full_disk_is_one_line_naming_the_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "last.ckpt"
    target.write_bytes(b"the previous checkpoint")
    with pytest.raises(NoSpaceLeft, match=f"{target}: no space left on device"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half of the new")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_bytes() == b"the previous checkpoint"
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left


def test_other_errors_pass_through(tmp_path):
    with pytest.raises(ValueError):
        with atomic_path(tmp_path / "x"):
            raise ValueError("a bug")


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_respect_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_text(tmp_path / "a.txt", "x")
        with staged_outputs(tmp_path / "out") as stage:
            (stage / "plots").mkdir()
            (stage / "plots" / "p.png").write_bytes(b"png")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "out" / "plots").stat().st_mode) == mode | 0o111 & ~umask


def test_staged_outputs_replace_as_a_set_or_not_at_all(tmp_path):
    out = tmp_path / "out"
    with staged_outputs(out) as stage:
        (stage / "scores.csv").write_text("old")
        (stage / "plots").mkdir()
        (stage / "plots" / "gone.png").write_text("old plot")
    with pytest.raises(RuntimeError):
        with staged_outputs(out) as stage:
            (stage / "scores.csv").write_text("new, half")
            raise RuntimeError("killed")
    assert (out / "scores.csv").read_text() == "old" and (out / "plots" / "gone.png").is_file()
    with staged_outputs(out) as stage:
        (stage / "scores.csv").write_text("new")
        (stage / "plots").mkdir()
        (stage / "plots" / "new.png").write_text("new plot")
    assert (out / "scores.csv").read_text() == "new"
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["new.png"]  # the folder replaced as a whole
    assert sorted(p.name for p in out.iterdir()) == ["plots", "scores.csv"]


def test_csv_rows_by_position_or_by_column_name(tmp_path):
    path = tmp_path / "out" / "t.csv"
    write_csv(path, ["a", "b"], [[1, "x,y"], {"b": 2.5, "extra": 0}, {"a": None}])
    assert path.read_text() == 'a,b\n1,"x,y"\n,2.5\n,\n'
    assert [p.name for p in path.parent.iterdir()] == ["t.csv"]  # no temporary file left


# --- issue 23, item 13: temporaries of a killed process are removed by the next write ---------------

KILLED_WHILE_WRITING = """
import os, signal, sys
from pathlib import Path
from lnta.io import atomic_path, staged_outputs
out = Path(sys.argv[1])
with staged_outputs(out) as stage, atomic_path(out / "scores.png") as tmp:
    tmp.write_bytes(b"")                       # matplotlib had opened it
    os.kill(os.getpid(), signal.SIGKILL)       # killed mid-write: no cleanup runs
"""


def test_temporaries_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_WRITING, str(tmp_path)], cwd=REPO)
    assert killed.returncode == -9
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and left[0].startswith(".scores.png.") and left[0].endswith(".tmp")
    assert left[1].startswith(".staging-")
    foreign = [tmp_path / ".scores.png.someone-else.tmp", tmp_path / ".staging-mine"]  # not lnta's names
    foreign[0].write_text("x")
    foreign[1].mkdir()
    live = tmp_path / f".scores.png.{socket.gethostname()}-{os.getppid()}-abcdefgh.tmp"   # a running writer's
    live.write_text("x")
    other_host = tmp_path / f".scores.png.{socket.gethostname()}x-{killed_pid()}-abcdefgh.tmp"
    other_host.write_text("x")
    write_text(tmp_path / "scores.png", "new")
    with staged_outputs(tmp_path) as stage:
        (stage / "b.txt").write_text("b")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["scores.png", "b.txt", *(p.name for p in foreign), live.name, other_host.name])


def killed_pid() -> int:
    """The pid of a process that has exited (reused only after the kernel's pid range wraps)."""
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
