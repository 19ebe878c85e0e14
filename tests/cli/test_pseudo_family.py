"""The pseudo_family sweep at a tiny scale through the real CLI (every type, 2 steps each), then its report."""
import csv
import json
from pathlib import Path

import pytest

from lnta.report import main as report_main
from tests.conftest import run_cli, tiny_overrides
from tests.helpers.by_hand import frame_aucs
from tests.unit.anomaly.test_intruders import _write_cifar100

TYPES = ["patch", "skip", "reverse", "repeat", "shuffle", "noise"]


@pytest.mark.slow
def test_pseudo_family_sweep_and_report(tmp_path):
    _write_cifar100(tmp_path)                      # the patch job reads <paths.data_dir>/cifar-100-python
    sweep = tmp_path / "sweep"
    tiny = [o for o in tiny_overrides(tmp_path) if not o.startswith("hydra.run")]
    run_cli("lnta.train", "+sweep=pseudo_family", "seed=0", "data=synthetic", f"paths.data_dir={tmp_path}",
            f"hydra.sweep.dir={sweep}", *tiny)
    runs = sorted(p for p in sweep.iterdir() if (p / "metrics.json").is_file())
    assert len(runs) == 1 + len(TYPES)
    for run in (r for r in runs if "anomaly-none" not in r.name):   # the gallery of each type's first batch
        assert (run / "pseudo_anomalies.png").stat().st_size > 5_000, run

    out = tmp_path / "report"
    report_main([str(sweep), "--out", str(out)])
    with open(out / "table.csv") as f:
        table = {(r["setting"], r["protocol"]): r for r in csv.DictReader(f)}
    assert {s for s, _ in table} == {"baseline", *TYPES}
    with open(out / "runs.csv") as f:
        by_setting = {r["setting"]: Path(r["run"]) for r in csv.DictReader(f)}
    for setting in ["baseline", *TYPES]:  # each mean is its one run's AUC, as computed here from its scores
        row, run = table[(setting, "last")], by_setting[setting]
        micro, _ = frame_aucs(run / "scores.csv")
        assert row["n"] == "1" and float(row["mean"]) == pytest.approx(micro, abs=1e-3), (setting, row)
        assert float(row["mean"]) == pytest.approx(json.loads((run / "metrics.json").read_text())["auc_micro"])
    md = (out / "report.md").read_text()
    assert all(f"| {s} |" in md for s in ["baseline", *TYPES])


def test_report_names_every_type_and_the_memae_backbone(tmp_path):
    import json

    from omegaconf import OmegaConf

    from lnta.reporting.report import read_run

    def fake(name, anomaly, model="lnta.models.ConvAE3D"):
        run = tmp_path / name
        (run / ".hydra").mkdir(parents=True)
        OmegaConf.save({"task_name": "train", "seed": 0, "data": {"name": "ped2"}, "model": {"_target_": model},
                        "anomaly": anomaly}, run / ".hydra" / "config.yaml")
        (run / "metrics.json").write_text(json.dumps({"auc_micro": 0.9}))
        return read_run(run)

    assert fake("a", {"name": "none"})["method"] == "baseline"
    assert fake("b", {"_target_": "lnta.anomaly.RepeatFrames", "p": 0.2, "repeats": [2, 3]})["r"] == "{2,3}"
    for target, method in [("ReverseClip", "reverse"), ("RepeatFrames", "repeat"), ("ShuffleClip", "shuffle")]:
        assert fake(method, {"_target_": f"lnta.anomaly.{target}", "p": 0.2})["method"] == method
    noise = {"_target_": "lnta.anomaly.PatchAnomaly", "name": "noise", "p": 0.2, "intruder": {"source": "noise"}}
    assert fake("noise", noise)["method"] == "noise"
    memae = fake("memae", {"_target_": "lnta.anomaly.SkipFrame", "p": 0.2}, "lnta.models.MemAE")
    assert (memae["model"], memae["method"]) == ("memae", "memae skip")
    assert fake("conv", {"name": "none"})["model"] == "conv_ae3d"
