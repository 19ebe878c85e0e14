"""A failed command removes the run dir it created when it wrote nothing into it; any other folder stays."""
from __future__ import annotations

import pytest

from tests.conftest import run_cli, tiny_overrides

pytestmark = pytest.mark.slow

BAD = ["anomaly=skip", "anomaly.p=1.5"]  # refused by the range check, after Hydra made the run dir


def _fails(*overrides):
    result = run_cli("lnta.train", *overrides, check=False)
    assert result.returncode == 2 and "error: anomaly.p=1.5" in result.stderr, result.stderr[-2000:]
    return result


def test_a_failed_command_leaves_no_empty_run_dir(tmp_path):
    run = tmp_path / "outputs" / "run"
    result = _fails(*BAD, f"hydra.run.dir={run}")
    assert not run.exists() and (tmp_path / "outputs").is_dir()  # only the folder the command made
    # the console holds the one error line, not the clean-up (logged at DEBUG)
    assert f"removed {run}" not in result.stdout + result.stderr and result.stderr.strip().startswith("error: ")


def test_a_folder_that_existed_is_kept_even_if_empty_of_results(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("the user's")
    _fails(*BAD, f"hydra.run.dir={run}")
    assert (run / "notes.txt").read_text() == "the user's"
    logged = tmp_path / "logged"  # an earlier command's log, nothing else
    logged.mkdir()
    (logged / "train.log").write_text("an earlier command's log\n")
    _fails(*BAD, f"hydra.run.dir={logged}")
    assert (logged / "train.log").read_text().startswith("an earlier command's log")


def test_a_run_that_failed_after_writing_something_is_kept(tmp_path):
    """A NaN loss at the first step: the curves and the gallery were written, so nothing is removed."""
    run = tmp_path / "run"
    result = run_cli("lnta.train", *tiny_overrides(tmp_path, run), "+callbacks.poison._target_=tests.helpers.faults.PoisonAtStep",
                     "+callbacks.poison.step=0", check=False)
    assert result.returncode == 2 and "nan" in result.stderr, result.stderr[-2000:]
    assert (run / ".hydra" / "config.yaml").is_file()
    assert [p for p in run.rglob("*") if p.is_file() and ".hydra" not in p.parts and p.suffix != ".log"]
