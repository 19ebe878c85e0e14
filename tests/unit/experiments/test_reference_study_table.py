"""The fidelity study's table (experiments/reference_cpu64/run.py): groups, Welch's test and its interval."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from tests.conftest import REPO
from tests.helpers.scripts import load_script


def _runner():
    return load_script(REPO / "experiments" / "reference_cpu64" / "run.py", "reference_study")


def _write(out, side, method, seed, aucs):
    run = out / side / method / f"seed{seed}"
    run.mkdir(parents=True)
    (run / "auc.json").write_text(json.dumps({"side": side, "method": method, "seed": seed, "auc_micro": aucs,
                                              "train_s": 600, "eval_s": 120}))


def test_table_groups_seeds_and_tests_lnta_against_the_authors(tmp_path):
    ours = {10: [0.80, 0.81], 11: [0.82, 0.80], 12: [0.79, 0.83]}
    theirs = {10: [0.81, 0.82], 11: [0.83, 0.84], 12: [0.78, 0.80]}
    for seed, aucs in ours.items():
        _write(tmp_path, "lnta", "toy", seed, aucs)
    for seed, aucs in theirs.items():
        _write(tmp_path, "authors", "toy", seed, aucs)
    _write(tmp_path, "lnta", "solo", 0, [0.9, 0.91])  # one side only: a group, no test
    summary = _runner().table(tmp_path)

    a, b = np.array(list(ours.values())) * 100, np.array(list(theirs.values())) * 100
    group = summary["groups"]["toy/lnta"]
    assert group["mean"] == a.mean(0).round(2).tolist() and group["std"] == a.std(0, ddof=1).round(2).tolist()
    assert summary["groups"]["solo/lnta"]["std"] is None and "solo" not in summary["tests"]
    for epoch, row in enumerate(summary["tests"]["toy"]):
        welch = stats.ttest_ind(a[:, epoch], b[:, epoch], equal_var=False)
        assert row["diff"] == pytest.approx(a[:, epoch].mean() - b[:, epoch].mean(), abs=0.005)
        assert row["welch_p"] == pytest.approx(welch.pvalue, abs=5e-4)
        low, high = welch.confidence_interval(0.95)
        assert row["ci95"] == [pytest.approx(low, abs=0.005), pytest.approx(high, abs=0.005)]
        assert low < row["diff"] < high
    markdown = (tmp_path / "results.md").read_text()
    assert f"| toy | 1 | {summary['tests']['toy'][0]['diff']:+.2f} |" in markdown
    assert json.loads((tmp_path / "results.json").read_text())["tests"] == summary["tests"]


def test_recorded_runs_fill_in_only_where_nothing_was_measured(tmp_path):
    recorded = json.loads((REPO / "experiments" / "reference_cpu64" / "recorded.json").read_text())["runs"]
    first = recorded[0]
    _write(tmp_path, first["side"], first["method"], first["seed"], [0.5, 0.5, 0.5])
    runs = _runner().table(tmp_path)["runs"]
    same = [r for r in runs if (r["side"], r["method"], r["seed"]) == (first["side"], first["method"], first["seed"])]
    assert len(same) == 1 and same[0]["auc_micro"] == [0.5, 0.5, 0.5] and not same[0].get("recorded")
    assert len(runs) == len(recorded)  # every other recorded run is included, marked as recorded
    assert sum(bool(r.get("recorded")) for r in runs) == len(recorded) - 1


def test_a_single_authors_run_is_checked_against_lntas_prediction_interval(tmp_path):
    ours = {0: [0.80, 0.90], 1: [0.82, 0.91], 2: [0.84, 0.92]}
    for seed, aucs in ours.items():
        _write(tmp_path, "lnta", "toy", seed, aucs)
    _write(tmp_path, "authors", "toy", 0, [0.83, 0.99])
    summary = _runner().table(tmp_path)
    # epoch 1: mean 82, s = 2, n = 3: 82 ± t(0.975, 2) * 2 * sqrt(4/3) = 82 ± 9.94
    half = stats.t.ppf(0.975, 2) * 2 * np.sqrt(4 / 3)
    first, second = summary["predictions"]["toy"]
    assert first["interval"] == [pytest.approx(82 - half, abs=0.005), pytest.approx(82 + half, abs=0.005)]
    assert first["inside"] and not second["inside"]  # 99 is outside 91 ± 4.97
    assert "toy" not in summary["tests"]
    assert "| toy | 2 | 99.00 |" in (tmp_path / "results.md").read_text()
