"""``python -m lnta.demo``: every method over seeds through the real CLI, then the per-seed / mean ± std table."""
import json
import re

import numpy as np
import pytest

from tests.conftest import run_cli, tiny_overrides


@pytest.mark.slow
def test_demo_prints_per_seed_aucs_and_mean_std_per_method(tmp_path):
    overrides = [o for o in tiny_overrides(tmp_path) if not o.startswith("hydra.run.dir")]
    result = run_cli("lnta.demo", "--seeds", "2", "--jobs", "2", "--out", str(tmp_path / "demo"), *overrides)
    out = result.stdout
    [header] = [line for line in out.splitlines() if line.startswith("| method |")]
    assert header == ("| method | seed 0 | seed 1 | AUC micro, mean ± std | vs baseline | AUC macro, mean ± std "
                      "| minutes per run |")
    [demo] = list((tmp_path / "demo").iterdir())            # one <time> folder per demo
    number = r"(\d\.\d{4})"
    for method in ("baseline", "patch", "skip"):
        [row] = [line for line in out.splitlines() if line.startswith(f"| {method} |")]
        match = re.fullmatch(rf"\| {method} \| {number} \| {number} \| {number} ± {number} \| (—|[+-]\d\.\d{{4}}) "
                             rf"\| {number} ± {number} \| \d+\.\d \|", row)
        assert match, row
        aucs = [json.loads((demo / method / f"seed{s}" / "metrics.json").read_text())["auc_micro"] for s in (0, 1)]
        assert [float(match[1]), float(match[2])] == pytest.approx(aucs, abs=5e-5)
        assert float(match[3]) == pytest.approx(np.mean(aucs), abs=5e-5)
        assert float(match[4]) == pytest.approx(np.std(aucs, ddof=1), abs=5e-5)
        config = (demo / method / "seed1" / ".hydra" / "overrides.yaml").read_text()
        assert f"+experiment=synthetic_{method}" in config and "seed=1" in config
        assert (demo / method / "seed1.log").stat().st_size > 0             # console output beside the run
    assert re.search(r"6 runs in \d+\.\d min wall \(2 side by side, OMP_NUM_THREADS=\d+ each\)", out)


def test_demo_refuses_a_seed_count_below_one(tmp_path):
    result = run_cli("lnta.demo", "--seeds", "0", "--out", str(tmp_path), check=False)
    assert result.returncode == 2 and "error: argument --seeds: '0': expected an integer >= 1" in result.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_demo_names_a_failed_run_and_its_log(tmp_path):
    overrides = [o for o in tiny_overrides(tmp_path) if not o.startswith("hydra.run.dir")]
    result = run_cli("lnta.demo", "--seeds", "1", "--out", str(tmp_path / "demo"), *overrides, "model.width=-1",
                     check=False)
    assert result.returncode == 1 and "[demo] " in result.stderr and "failed (exit" in result.stderr
    assert "seed0.log" in result.stderr and "Traceback" not in result.stderr.split("[demo]")[-1]
