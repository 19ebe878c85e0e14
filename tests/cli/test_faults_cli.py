"""Faults of issue 13 through the real CLI: diverged weights, concurrent runs, full disks, bad
checkpoints, kill-and-resume curves, atomic score outputs, undefined AUCs, threshold calibration."""
import math

import pytest
import torch

from tests.conftest import run_cli, tiny_overrides

pytestmark = pytest.mark.slow


def one_error(result) -> str:
    """The single ``error:`` line of a failed run (exit 2, no traceback)."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, errors
    return errors[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One finished tiny run (2 steps), shared by the tests that only read it."""
    tmp = tmp_path_factory.mktemp("trained")
    run_cli("lnta.train", *tiny_overrides(tmp, tmp / "run"))
    return tmp


# --- 2 + 22: diverged weights -------------------------------------------------------------------

@pytest.mark.parametrize("lr, expected", [("inf", "is not finite"), ("1e10", "exceeds max_abs=1e+06")])
def test_diverged_weights_stop_training_naming_the_step(tmp_path, lr, expected):
    run = tmp_path / "run"
    result = run_cli("lnta.train", *tiny_overrides(tmp_path, run), "trainer.max_steps=1", f"optimizer.lr={lr}",
                     check=False)
    line = one_error(result)
    assert line.startswith("error: step 1 (epoch 0, before saving a checkpoint): the weights diverged"), line
    assert expected in line
    assert not (run / "checkpoints").exists() and not (run / "metrics.json").exists()


def test_test_refuses_non_finite_psnrs(tmp_path, trained):
    ckpt = torch.load(trained / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    for value in ckpt["state_dict"].values():
        if value.is_floating_point():
            value.fill_(math.nan)
    broken = tmp_path / "nan.ckpt"
    torch.save(ckpt, broken)
    result = run_cli("lnta.eval", f"ckpt_path={broken}", f"hydra.run.dir={tmp_path / 'eval'}", check=False)
    line = one_error(result)
    assert f"{broken}: 50 of 50 frames have a non-finite PSNR (first: video 01 frame 8, nan)" in line
    assert not (tmp_path / "eval" / "metrics.json").exists()
