"""``python -m lnta.demo``: every method over seeds through the real CLI, then the per-seed / mean ± std table."""
import json
import re

import numpy as np
import pytest
from scipy import stats

from tests.conftest import run_cli, tiny_overrides


@pytest.mark.slow
def test_demo_prints_per_seed_aucs_and_mean_std_per_method(tmp_path):
    overrides = [o for o in tiny_overrides(tmp_path) if not o.startswith("hydra.run.dir")]
    result = run_cli("lnta.demo", "--seeds", "2", "--jobs", "2", "--out", str(tmp_path / "demo"), *overrides,
                     "callbacks.run_plan.timed_steps=1")  # the estimate after the second of the two steps
    out = result.stdout
    # each run's duration estimate is relayed to the console
    assert re.search(r"^\[demo\] skip seed 1: \d+\.\d\d s per step over 1 steps; about ", out, flags=re.M), out
    lines = out.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("| method |")]
    assert len(starts) == 2, out  # the AUC table, then the mechanism table
    auc_table, mech_table = lines[starts[0]:starts[1]], lines[starts[1]:]
    header = auc_table[0]
    assert header == ("| method | seed 0 | seed 1 | AUC micro, mean ± std | vs baseline | Welch p | "
                      "AUC macro, mean ± std | minutes per run |")
    [demo] = list((tmp_path / "demo").iterdir())            # one <time> folder per demo
    number = r"(\d\.\d{4})"
    for method in ("baseline", "patch", "skip"):
        [row] = [line for line in auc_table if line.startswith(f"| {method} |")]
        match = re.fullmatch(rf"\| {method} \| {number} \| {number} \| {number} ± {number} \| (—|[+-]\d\.\d{{4}}) "
                             rf"\| (—|\d\.\d{{3}}|nan) \| {number} ± {number} \| \d+\.\d \|", row)
        assert match, row
        aucs = [json.loads((demo / method / f"seed{s}" / "metrics.json").read_text())["auc_micro"] for s in (0, 1)]
        assert [float(match[1]), float(match[2])] == pytest.approx(aucs, abs=5e-5)
        assert float(match[3]) == pytest.approx(np.mean(aucs), abs=5e-5)
        assert float(match[4]) == pytest.approx(np.std(aucs, ddof=1), abs=5e-5)
        if method == "baseline":
            base = aucs
        else:
            assert float(match[6]) == pytest.approx(stats.ttest_ind(aucs, base, equal_var=False).pvalue, abs=5e-4)
        [mech] = [line for line in mech_table if line.startswith(f"| {method} |")]
        psnr = [json.loads((demo / method / f"seed{s}" / "metrics.json").read_text())["mechanism"]["anomaly_psnr"]
                for s in (0, 1)]
        assert mech.split(" | ")[1] == f"{np.mean(psnr):.2f} ± {np.std(psnr, ddof=1):.2f}"
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


def test_mechanism_table_pools_each_kind_by_pixels(tmp_path):
    from lnta.demo import mechanism_table

    def metrics(anomaly_01, anomaly_02):
        per_video = {"01": {"anomaly_mse": anomaly_01, "foreground_mse": 0.01, "pixels": {"anomaly": 1, "foreground": 4}},
                     "02": {"anomaly_mse": anomaly_02, "foreground_mse": 0.01, "pixels": {"anomaly": 3, "foreground": 4}}}
        return {"mechanism": {"anomaly_psnr": 10.0, "foreground_psnr": 20.0, "background_psnr": 30.0, "gap_db": 10.0,
                              "per_video": per_video}, "auc_per_video": {"01": 0.9, "02": 0.6}}
    for seed, (a, b) in enumerate([(0.1, 0.01), (0.1, 0.1)]):
        (tmp_path / "baseline" / f"seed{seed}").mkdir(parents=True)
        (tmp_path / "baseline" / f"seed{seed}" / "metrics.json").write_text(json.dumps(metrics(a, b)))
    text = mechanism_table(tmp_path, [0, 1], ("baseline",))
    row = text.splitlines()[-1].split(" | ")
    # video 01 holds carts, 02 runners (TEST_KINDS); gaps 10 dB (carts both seeds), runners 0 dB then 10 dB
    assert text.splitlines()[0].endswith("| AUC cart videos | AUC runner videos |")
    assert row[4:] == ["10.00 ± 0.00", "10.00 ± 0.00", "5.00 ± 7.07", "0.9000 ± 0.0000", "0.6000 ± 0.0000 |"]


def test_relay_keeps_the_whole_output_in_the_log_and_prints_only_the_estimate(tmp_path, capsys):
    from lnta.callbacks.progress import ESTIMATE
    from lnta.demo import relay

    lines = [b"[2026-12-06 18:00:00,000][lnta.callbacks.progress][INFO] - plan: synthetic: 1450 training clips\n",
             f"[2026-12-06 18:00:09,000][lnta.callbacks.progress][INFO] - plan: 1.37{ESTIMATE}5 steps; about 0:06:30 "
             "left for training (ends ~2026-12-06 18:07)\n".encode(),
             "[2026-12-06 18:07:00,000][lnta][INFO] - test: AUC micro 0.8591 \u00b1\n".encode()]
    with open(tmp_path / "seed0.log", "wb") as log:
        relay(iter(lines), log, "skip seed 0")
    assert (tmp_path / "seed0.log").read_bytes() == b"".join(lines)  # every byte, whatever the locale
    assert capsys.readouterr().out == ("[demo] skip seed 0: 1.37 s per step over 5 steps; about 0:06:30 left for "
                                       "training (ends ~2026-12-06 18:07)\n")
