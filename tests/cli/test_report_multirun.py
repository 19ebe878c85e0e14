"""lnta.report: over a real 2-job multirun with every-epoch evaluation, and over hand-made run folders."""
from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest
from omegaconf import OmegaConf

from lnta.report import main as report_main
from tests.conftest import run_cli, tiny_overrides


def _read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_multirun_eval_and_report(tmp_path):
    sweep = tmp_path / "sweep"
    tiny = [o for o in tiny_overrides(tmp_path) if not o.startswith(("hydra.run", "trainer.max"))]
    result = run_cli("lnta.train", "+experiment=synthetic_patch", "+sweep=seeds", "seed=0,1",
                     f"hydra.sweep.dir={sweep}", *tiny, "trainer.max_epochs=2", "trainer.limit_train_batches=1",
                     "anomaly.beta=1")
    runs = [sweep / "seed-0", sweep / "seed-1"]  # job folders named by the swept values
    metrics = [json.loads((run / "metrics.json").read_text()) for run in runs]
    assert [m["epoch"] for m in metrics] == [1, 1]
    table = result.stdout.split(f"2 jobs in {sweep}:\n")[1].splitlines()  # the table at the multirun's end
    assert table[0].split() == ["AUC", "micro", "AUC", "macro", "pixel", "AUC", "run"]
    for line, m, name in zip(table[1:3], metrics, ("seed-0", "seed-1")):
        assert line.split() == [f"{m[k]:.4f}" for k in ("auc_micro", "auc_macro", "pixel_auc")] + [name]

    # every epoch of job 0: epochs.csv, its last epoch reproduces the run's own test
    run_cli("lnta.eval", f"ckpt_path={runs[0] / 'checkpoints'}", f"hydra.run.dir={tmp_path / 'eval'}",
            "trainer.enable_progress_bar=false")
    epochs = _read_csv(runs[0] / "epochs.csv")
    assert [int(r["epoch"]) for r in epochs] == [0, 1]
    assert float(epochs[-1]["auc_micro"]) == pytest.approx(metrics[0]["auc_micro"], abs=1e-9)
    selection = json.loads((runs[0] / "epoch_metrics.json").read_text())["selection"]
    aucs = [float(r["auc_micro"]) for r in epochs]
    assert selection["last"]["epoch"] == 1 and selection["oracle"]["auc_micro"] == max(aucs)

    out = tmp_path / "report"
    report_main([str(sweep), str(tmp_path / "eval"), "--out", str(out)])
    runs_csv = {r["seed"]: r for r in _read_csv(out / "runs.csv")}
    assert set(runs_csv) == {"0", "1"} and runs_csv["0"]["method"] == "patch" and runs_csv["0"]["beta"] == "1"
    table = {r["protocol"]: r for r in _read_csv(out / "table.csv")}
    last = np.array([m["auc_micro"] for m in metrics])
    assert float(table["last"]["mean"]) == pytest.approx(last.mean(), abs=1e-12)
    assert float(table["last"]["std"]) == pytest.approx(last.std(ddof=1), abs=1e-12)
    assert int(table["last"]["n"]) == 2
    assert float(table["oracle"]["mean"]) == pytest.approx(max(aucs), abs=1e-12) and int(table["oracle"]["n"]) == 1
    md = (out / "report.md").read_text()
    assert "Selection `last`" in md and "Selection `oracle`" in md and f"{100 * last.mean():.2f}" in md
    assert "Oracle cells count only runs with `epochs.csv`" in md  # seed 1 has none
    assert runs_csv["1"]["auc_oracle"] == "" and float(runs_csv["0"]["auc_oracle"]) == max(aucs)
    assert (out / "auc_per_epoch_synthetic.png").stat().st_size > 0


def _fake_run(path, anomaly: dict, seed: int, auc: float):
    """A run folder as lnta.train leaves it, reduced to what the report reads."""
    (path / ".hydra").mkdir(parents=True)
    OmegaConf.save({"task_name": "train", "seed": seed, "data": {"name": "ped2"}, "anomaly": anomaly},
                   path / ".hydra" / "config.yaml")
    (path / "metrics.json").write_text(json.dumps({"auc_micro": auc}))


def test_report_groups_settings_and_plots_each_swept_hyperparameter(tmp_path):
    aucs = {}
    for seed in (0, 1):
        _fake_run(tmp_path / "base" / str(seed), {"name": "none"}, seed, 0.80 + 0.01 * seed)
        for p in (0.1, 0.2):
            auc = 0.85 + p / 10 + 0.02 * seed
            aucs.setdefault(p, []).append(auc)
            _fake_run(tmp_path / "sweep" / f"{p}_{seed}", {"_target_": "lnta.anomaly.PatchAnomaly", "p": p,
                                                           "alpha": 0.5, "beta": 10}, seed, auc)
    out = tmp_path / "report"
    report_main([str(tmp_path / "base"), str(tmp_path / "sweep"), "--out", str(out)])
    table = {(r["setting"], r["protocol"]): r for r in _read_csv(out / "table.csv")}
    assert set(table) == {(s, p) for s in ("baseline", "patch p=0.1", "patch p=0.2") for p in ("last", "oracle")}
    for p, values in aucs.items():
        row = table[(f"patch p={p}", "last")]
        assert float(row["mean"]) == pytest.approx(np.mean(values)) and float(row["std"]) == pytest.approx(
            np.std(values, ddof=1))
        oracle = table[(f"patch p={p}", "oracle")]
        assert (oracle["n"], oracle["mean"], oracle["std"]) == ("0", "", "")  # no epochs.csv: no oracle number
    runs = _read_csv(out / "runs.csv")
    assert {(r["auc_oracle"], r["oracle_epoch"], r["pixel_auc_last"]) for r in runs} == {("", "", "")}  # never "nan"
    assert "nan" not in (out / "table.csv").read_text()
    md = (out / "report.md").read_text()
    oracle_section = md.split("## Selection `oracle`")[1]
    assert "Oracle cells count only runs with `epochs.csv`" in oracle_section
    assert "python -m lnta.eval ckpt_path=RUN" in oracle_section
    assert "epochs.csv" not in md.split("## Selection `oracle`")[0]  # said once, where the column is
    assert float(table[("baseline", "last")]["mean"]) == pytest.approx(0.805)
    assert (out / "auc_vs_p_ped2_patch.png").stat().st_size > 0
    assert not list(out.glob("auc_vs_alpha*"))  # alpha did not vary


def _fake_run_with(path, seed: int, auc: float, image_size=32, width=0.125, epochs=2, anomaly=None, max_steps=-1,
                   steps_run=None):
    """A hand-made run folder whose data, model and trainer settings are given; it trained ``epochs`` epochs of
    10 steps, or ``steps_run`` steps (``max_steps`` stopped it)."""
    (path / ".hydra").mkdir(parents=True)
    OmegaConf.save({"task_name": "train", "seed": seed, "data": {"name": "ped2", "image_size": image_size,
                                                                 "root": f"/data/{seed}"},
                    "model": {"width": width}, "trainer": {"max_epochs": epochs, "max_steps": max_steps,
                                                           "enable_progress_bar": seed == 0},
                    "paths": {"output_dir": str(path)}, "anomaly": anomaly or {"name": "none"}},
                   path / ".hydra" / "config.yaml")
    step = steps_run or 10 * epochs
    (path / "metrics.json").write_text(json.dumps({"auc_micro": auc, "global_step": step, "epoch": (step - 1) // 10}))


def test_report_labels_say_how_long_each_run_trained(tmp_path):
    """Issue 25 item 7: a 20-step run of max_epochs=60 is '20 steps', not 'epochs=60'; labels stay short."""
    _fake_run_with(tmp_path / "runs" / "a", 0, 0.80, epochs=60, max_steps=20, steps_run=20)
    _fake_run_with(tmp_path / "runs" / "b", 0, 0.90, epochs=3)
    _fake_run_with(tmp_path / "runs" / "c", 1, 0.70, epochs=3, width=0.5)
    out = tmp_path / "report"
    report_main([str(tmp_path / "runs"), "--out", str(out)])
    settings = {r["run"].rsplit("/", 1)[-1]: r["setting"] for r in _read_csv(out / "runs.csv")}
    assert settings == {"a": "baseline [width=0.125 20 steps]", "b": "baseline [width=0.125 3 epochs]",
                        "c": "baseline [width=0.5 3 epochs]"}
    assert {r["length"] for r in _read_csv(out / "runs.csv")} == {"20 steps", "3 epochs"}
    assert "epochs=60" not in (out / "report.md").read_text()


def test_report_never_pools_runs_that_differ_in_more_than_the_seed(tmp_path, capsys):
    patch = {"_target_": "lnta.anomaly.PatchAnomaly", "p": 0.2}
    _fake_run_with(tmp_path / "runs" / "a", 0, 0.80, epochs=2)
    _fake_run_with(tmp_path / "runs" / "b", 0, 0.90, epochs=4)               # same seed, longer: its own group
    _fake_run_with(tmp_path / "runs" / "c", 1, 0.84, epochs=4)
    _fake_run_with(tmp_path / "runs" / "d", 0, 0.70, image_size=64, width=0.5, epochs=2)
    _fake_run_with(tmp_path / "runs" / "e", 0, 0.82, epochs=2, anomaly=patch)
    _fake_run_with(tmp_path / "runs" / "f", 0, 0.86, epochs=2, anomaly={**patch, "p": 0.4})
    _fake_run_with(tmp_path / "runs" / "g", 0, 0.60, image_size=64, width=0.5, epochs=2, anomaly={**patch, "p": 0.4})
    out = tmp_path / "report"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "Mean of empty slice"
        report_main([str(tmp_path / "runs"), "--out", str(out)])
    table = {r["setting"]: r for r in _read_csv(out / "table.csv") if r["protocol"] == "last"}
    assert set(table) == {
        "baseline [image_size=32 width=0.125 2 epochs]", "baseline [image_size=32 width=0.125 4 epochs]",
        "baseline [image_size=64 width=0.5 2 epochs]", "patch p=0.2 [image_size=32 width=0.125 2 epochs]",
        "patch p=0.4 [image_size=32 width=0.125 2 epochs]", "patch [image_size=64 width=0.5 2 epochs]"}
    longer = table["baseline [image_size=32 width=0.125 4 epochs]"]
    assert (longer["n"], longer["seeds"]) == ("2", "0 1") and float(longer["mean"]) == pytest.approx(0.87)
    assert table["baseline [image_size=32 width=0.125 2 epochs]"]["n"] == "1"
    md = (out / "report.md").read_text()
    assert "## What differs between the settings" in md
    for line in ("- `method`: baseline, patch", "- `data.image_size` (image_size): 32, 64", "- `model.width` (width): 0.125, 0.5",
                 "- `length`: 2 epochs, 4 epochs", "- `anomaly.p` (p): 0.2, 0.4, None"):
        assert line in md, md
    assert "data.root" not in md and "enable_progress_bar" not in md and "`seed`" not in md
    assert "_target_" not in md and "anomaly.name" not in md
    # the p sweep is drawn in its own context only, against the baseline of that context
    assert [p.name for p in out.glob("auc_vs_p_*")] == ["auc_vs_p_ped2_patch_0.png"]
    assert "image_size" in capsys.readouterr().out


def test_report_refuses_two_runs_of_one_setting_and_seed(tmp_path, capsys):
    _fake_run_with(tmp_path / "runs" / "a", 0, 0.80)
    _fake_run_with(tmp_path / "runs" / "b", 0, 0.90)
    with pytest.raises(SystemExit) as exit_info:
        report_main([str(tmp_path / "runs"), "--out", str(tmp_path / "report")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "the same setting and seed 0" in err[0]
    assert str(tmp_path / "runs" / "a") in err[0] and str(tmp_path / "runs" / "b") in err[0]
