"""experiments/reference_check/check.py: its pure helpers, its input errors, and (with an authors' clone) the check itself."""
from __future__ import annotations

import importlib.util
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from lnta.data.datasets import TrainClips
from lnta.data.transforms import to_unit
from lnta.data.io.store import FrameStore
from tests.conftest import REPO, shared_dataset

SCRIPT = REPO / "experiments" / "reference_check" / "check.py"


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("reference_check_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_scripted_draws_return_the_script_in_order_record_calls_and_restore(check):
    draws = check.ScriptedDraws(randint=[7, 3], choice=[5])
    real_randint, real_choice = np.random.randint, random.choice
    with draws.patch(randint=(np.random, "randint"), choice=(random, "choice")):
        assert np.random.randint(120) == 7
        assert random.choice([2, 3, 4, 5]) == 5
        assert np.random.randint(-10, 11) == 3
        with pytest.raises(check.ScriptError, match="unscripted draw randint"):
            np.random.randint(4)
    assert np.random.randint is real_randint and random.choice is real_choice
    assert draws.args("randint") == [(120,), (-10, 11), (4,)]
    assert draws.args("choice") == [([2, 3, 4, 5],)]
    assert draws.left() == {}


def test_scripted_draws_restore_after_an_error_and_report_what_is_left(check):
    draws = check.ScriptedDraws(uniform=[0.1, 0.2])
    real = np.random.uniform
    with pytest.raises(ZeroDivisionError):
        with draws.patch(uniform=(np.random, "uniform")):
            np.random.uniform(high=0.5)
            1 / 0
    assert np.random.uniform is real
    assert draws.left() == {"uniform": [0.2]}
    assert draws.calls == [("uniform", (), {"high": 0.5})]


def test_flat_clip_index_follows_lnta_clip_order(check):
    lengths = [20, 17, 30]
    clips = TrainClips(FrameStore(["a", "b", "c"], lengths, np.zeros((sum(lengths), 2, 2), np.uint8)), 16)
    for video, start in [(0, 0), (0, 4), (1, 1), (2, 0), (2, 14)]:
        i = check.flat_clip_index(lengths, video, start)
        assert (clips.videos[i], clips.starts[i]) == (video, start)
    for bad in (-1, 2):
        with pytest.raises(ValueError, match="outside 0..1"):
            check.flat_clip_index(lengths, 1, bad)


def test_unit_to_uint8_inverts_the_reference_scaling_exactly(check):
    levels = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(check.unit_to_uint8(to_unit(levels)), levels)
    numpy_scaled = torch.from_numpy(levels.numpy().astype(np.float32) / 127.5 - 1.0)  # the authors' arithmetic
    assert torch.equal(check.unit_to_uint8(numpy_scaled), levels)
    with pytest.raises(ValueError, match="not x / 127.5 - 1"):
        check.unit_to_uint8(to_unit(levels) + 1e-3)


def test_level_diff_is_lnta_minus_theirs_in_grey_levels(check):
    ours = torch.tensor([10, 11, 12], dtype=torch.uint8)
    theirs = to_unit(torch.tensor([10, 10, 13], dtype=torch.uint8))
    assert check.level_diff(ours, theirs).tolist() == [0, 1, -1]
    assert "33.3% of pixels +1, 33.33% -1" in check.describe_levels(check.level_diff(ours, theirs))


def test_first_rand_serves_the_scripted_draw_once(check):
    real = torch.rand
    with check.first_rand(torch.tensor([0.7, 0.05])) as sizes:
        assert torch.rand(2).tolist() == pytest.approx([0.7, 0.05])
        later = torch.rand(3)
    assert torch.rand is real
    assert sizes == [(2,), (3,)] and later.shape == (3,) and bool(((later >= 0) & (later < 1)).all())


def test_rows_and_table(check):
    rows = [check.Row("clip", 1.0, 1, "grey", "n"), check.Row("mask", 2e-5, 1e-5),
            check.Row("failed one", float("nan"), 0, "frames", "why")]
    assert [r.ok for r in rows] == [True, False, False]
    table = check.format_table(rows).splitlines()
    assert table[0].startswith("| compared | max abs diff | tolerance | equal within tolerance?")
    assert table[2] == "| clip | 1 grey level (0.00784 in [-1,1]) | 1 grey level (0.00784 in [-1,1]) | yes | n |"
    assert "| NO |" in table[3] and table[4] == "| failed one | failed | 0 frames | NO | why |"
    assert check.Row("x", 0.0, 1e-5, "[-1,1]").cell(1 / 127.5) == "0.00784 (1 grey levels)"


def test_patch_cases_walk_inside_the_reference_ranges(check):
    for size in (64, 256):
        for case in check.patch_cases(size):
            assert len(case.steps) == check.CLIP_LEN
            assert all(-case.beta <= v <= case.beta for step in case.steps for v in step)
            assert all(0 <= c < size for c in case.start) and all(0 <= u < 1 for u in case.u)


def test_a_folder_that_is_not_the_authors_code_is_a_one_line_error(check, tmp_path, capsys):
    assert check.main(["--clone", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --clone={tmp_path}: no utils.py, model/utils.py") and "\n" not in err


@pytest.mark.slow
@pytest.mark.realdata
def test_lnta_matches_the_authors_code_on_ped2():
    clone = os.environ.get("LNTA_AUTHORS_CLONE")
    if not clone:
        pytest.skip("no authors' clone: set LNTA_AUTHORS_CLONE to a checkout of "
                    "aseuteurideu/LearningNotToReconstructAnomalies to run the differential check")
    for module in ("cv2", "sklearn"):
        pytest.importorskip(module, reason="the authors' code needs opencv-python-headless and scikit-learn "
                                           "(pip install -e '.[reference]')")
    ped2 = shared_dataset("ped2")
    result = subprocess.run([sys.executable, str(SCRIPT), "--clone", clone, "--data", str(ped2), "--size", "64"],
                            cwd=REPO, capture_output=True, text=True, timeout=1200,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "| NO |" not in result.stdout and "within tolerance" in result.stdout
