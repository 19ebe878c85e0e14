"""The long Ped2 study's analysis (experiments/ped2_long/table.py): both protocols, Welch per epoch, the tables."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from tests.conftest import REPO
from tests.helpers.scripts import load_script


def _table():
    return load_script(REPO / "experiments" / "ped2_long" / "table.py", "ped2_long_table")


def _write(runs, method, seed, aucs, gaps):
    for epoch, (auc, gap) in enumerate(zip(aucs, gaps)):
        path = runs / method / f"seed{seed}" / "epochs" / f"epoch{epoch:03d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"epoch": epoch, "auc_micro": auc, "auc_macro": auc, "pixel_auc": 0.9,
                                    "mechanism": {"gap_db": gap, "anomaly_psnr": 10.0, "foreground_psnr": 10.0 + gap,
                                                  "background_psnr": 25.0}}))


def test_protocols_are_the_epoch_value_and_the_best_so_far():
    last, oracle = _table().protocol_values([{"epoch": 0, "auc_micro": 80.0}, {"epoch": 1, "auc_micro": 83.0},
                                             {"epoch": 2, "auc_micro": 81.0}])
    assert last.tolist() == [80.0, 83.0, 81.0] and oracle.tolist() == [80.0, 83.0, 83.0]
    with pytest.raises(ValueError, match="without a gap"):
        _table().protocol_values([{"epoch": 0, "auc_micro": 1.0}, {"epoch": 2, "auc_micro": 1.0}])


def test_summary_tests_skip_against_baseline_per_epoch_under_both_protocols(tmp_path):
    runs = tmp_path / "runs"
    base = {0: [0.80, 0.82], 1: [0.81, 0.80], 2: [0.79, 0.81]}
    skip = {0: [0.83, 0.82], 1: [0.84, 0.86], 2: [0.82, 0.85]}
    for seed in range(3):
        _write(runs, "baseline", seed, base[seed], [0.1, 0.2])
        _write(runs, "skip", seed, skip[seed], [0.3, 0.5])
    table = _table()
    summary = table.table(runs, tmp_path)
    last = summary["tests"]["last"][1]["test"]
    a, b = np.array([82, 86, 85.0]), np.array([82, 80, 81.0])   # epoch 1 of each seed, in %
    expected = stats.ttest_ind(a, b, equal_var=False)
    assert last["diff"] == pytest.approx(a.mean() - b.mean()) and last["p"] == pytest.approx(expected.pvalue)
    # oracle at epoch 1: the best of epochs 0..1 per run
    oracle = summary["tests"]["oracle"][1]["test"]
    assert oracle["diff"] == pytest.approx(np.mean([83, 86, 85]) - np.mean([82, 81, 81]))
    assert summary["methods"]["skip"]["gap_db"][1]["mean"] == pytest.approx(0.5)
    assert summary["methods"]["baseline"]["last"][0]["std"] == pytest.approx(np.std([80, 81, 79], ddof=1))
    text = (tmp_path / "results.md").read_text()
    assert "| 1 | last | +3.33 |" in text and (tmp_path / "curves.png").stat().st_size > 0


def test_one_seed_a_side_has_no_test_and_says_so(tmp_path):
    runs = tmp_path / "runs"
    _write(runs, "baseline", 0, [0.80, 0.81, 0.82], [0.1, 0.2, 0.3])
    _write(runs, "skip", 0, [0.79], [0.4])   # a run that reached fewer epochs
    summary = _table().summarise(_table().load_runs(runs))
    assert summary["tests"]["last"] == [{"epoch": 0, "n": [1, 1], "test": None}]
    assert summary["methods"]["baseline"]["oracle"][2]["mean"] == pytest.approx(82.0)
    assert "no test yet (Welch's test needs 2 seeds a side)" in _table().markdown(summary)


def test_selection_effect_and_the_cpu_kind_check(tmp_path):
    runs, other = tmp_path / "runs", tmp_path / "runs_avx2_fp32"
    _write(runs, "baseline", 0, [0.80, 0.84, 0.81], [0.1, 0.2, 0.3])
    _write(runs, "skip", 0, [0.78, 0.79, 0.83], [0.1, 0.2, 0.3])
    _write(other, "baseline", 0, [0.81, 0.82], [0.1, 0.2])   # the same seed on another CPU kind, 2 epochs
    summary = _table().table(runs, tmp_path, other)
    effect = summary["selection_effect"]
    # baseline: last 81, best so far 84 -> +3; skip: its last epoch is its best -> 0
    assert effect["baseline"]["oracle_minus_last"] == pytest.approx(3.0) and effect["baseline"]["epoch"] == 2
    assert effect["skip"]["oracle_minus_last"] == pytest.approx(0.0)
    check = summary["cpu_kind_check"]
    assert [(r["epoch"], round(r["diff"], 6)) for r in check["rows"]] == [(0, -1.0), (1, 2.0)]
    assert check["mean_abs"] == pytest.approx(1.5) and check["max_abs"] == pytest.approx(2.0)
    text = (tmp_path / "results.md").read_text()
    assert "baseline +3.00 (epoch 2, n=1)" in text and "| baseline 0 | 1 | 84.00 | 82.00 | +2.00 |" in text


def test_no_recorded_epochs_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="no recorded epochs.*collect them first"):
        _table().table(tmp_path / "runs", tmp_path, None)
