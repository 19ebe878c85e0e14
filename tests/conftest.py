"""Shared fixtures: the real CLI as a subprocess, tiny synthetic data, the shared real datasets."""
from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"


@functools.cache
def inductor_compiles() -> bool:
    """Whether torch.compile (Inductor, with freezing, as compiled testing runs it) compiles the AE's kind of
    test forward here, a Conv3d and a strided ConvTranspose3d under inference_mode: it needs a C++ compiler and
    the Python headers at run time, and torch 2.4's freezing fails on ConvTranspose3d; compiled testing falls
    back to eager in each case. Asked once, by compiling torch's own modules (not lnta's)."""
    import torch
    from torch import nn
    from torch._inductor import config

    net = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1),
                        nn.ConvTranspose3d(2, 1, 3, stride=2, padding=1, output_padding=1)).eval()
    try:
        with torch.inference_mode(), config.patch(freezing=True):
            out = torch.compile(net, dynamic=False)(torch.ones(1, 1, 4, 4, 4))
        return tuple(out.shape) == (1, 1, 8, 8, 8)
    except Exception:  # Inductor's BackendCompilerFailed (InvalidCxxCompiler, a failed build, a lowering bug)
        return False


def shared_dataset(*parts: str) -> Path:
    """A path under ../shared/datasets, or skip the test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent")
    return path


#: The commands the tests start run on the CPU on every machine, GPU or not: the CLI tests compare runs bit for
#: bit (resume, two runs of one seed, eval against the end-of-training test) and with in-process CPU results,
#: which cuDNN does not promise (README "Determinism"), and every command picks a GPU where there is one
#: (trainer=auto, score's device=auto, lnta.bench). The GPU default itself is tested in-process with a faked
#: device (tests/unit/conf/test_device_default.py); GPU runs are experiments/gpu_check's.
CPU_ONLY = {"CUDA_VISIBLE_DEVICES": ""}


def cli_env(env: dict | None = None, threads: str | None = None) -> dict:
    """The environment of a command a test starts: this one, unbuffered, ``OMP_NUM_THREADS`` (``threads``, else
    this environment's, else 2), :data:`CPU_ONLY`, then ``env``."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": threads or os.environ.get("OMP_NUM_THREADS", "2"),
            **CPU_ONLY, **(env or {})}


def run_cli(module: str, *overrides: str, check: bool = True, env: dict | None = None,
            timeout: float = 900) -> subprocess.CompletedProcess:
    """``python -m <module> <overrides>`` from the repo root, in :func:`cli_env`, output captured."""
    full_env = cli_env(env)
    result = subprocess.run([sys.executable, "-m", module, *overrides], cwd=REPO, env=full_env,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{module} {' '.join(overrides)} failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def one_error(result) -> str:
    """The single ``error:`` line of a failed run (exit 2, no traceback)."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, errors
    return errors[0]


def tiny_overrides(tmp: Path, run_dir: Path | None = None) -> list[str]:
    """Overrides for a seconds-long run: tiny synthetic videos, a narrow AE, two steps, eager testing."""
    return [
        f"data.root={tmp / 'synthetic'}", "data.size=32", "data.image_size=32", "data.train_videos=2",
        "data.test_videos=2", "data.frames_per_video=40", "model.width=0.125",
        "trainer.max_epochs=1", "trainer.max_steps=2", "trainer.enable_progress_bar=false",
        # eager testing: compiling costs ~8 s a run; the compiled path has its own tests
        # (tests/unit/trainer/test_compiled.py, tests/cli/test_train_eval_cli.py), which override this
        "inference_compile=false",
        f"hydra.run.dir={run_dir or tmp / 'run'}",
    ]


@pytest.fixture
def tiny(tmp_path) -> list[str]:
    return tiny_overrides(tmp_path)


@pytest.fixture
def clean_hydra_config():
    """For tests that set Hydra's global ``HydraConfig`` (as a command does): cleared after the test, so
    that no later test sees a run dir of this one (``lnta.cli.rundir.guard_run_dir`` reads it)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    yield
    HydraConfig.instance().cfg = None
    GlobalHydra.instance().clear()
