"""The real CLI on tiny synthetic data: train, test, outputs that agree with each other."""
import csv
import json

import numpy as np
import pytest

from lnta.metrics.protocol import roc_auc
from tests.conftest import inductor_compiles, run_cli

pytestmark = pytest.mark.slow


def _read_scores(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return rows


@pytest.mark.parametrize("experiment", ["synthetic_baseline", "synthetic_patch", "synthetic_skip"])
def test_train_writes_consistent_outputs(tmp_path, tiny, experiment):
    result = run_cli("lnta.train", f"+experiment={experiment}", *tiny)
    # the calibration pass after fit says what it does before it runs (no silent wait)
    output = result.stdout + result.stderr
    assert output.index("calibration: scoring 50 training clips") < output.index("calibration: normal PSNR")
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    rows = _read_scores(run / "scores.csv")
    assert metrics["n_frames_scored"] == len(rows) == 2 * (40 - 15)
    assert metrics["dataset"] == "synthetic" and "protocol" in metrics
    scores = np.array([float(r["score"]) for r in rows])
    labels = np.array([int(r["label"]) for r in rows])
    assert metrics["auc_micro"] == pytest.approx(roc_auc(scores, labels), abs=1e-6)
    assert (run / "scores.png").is_file() and (run / "roc.png").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert list((run / "checkpoints").glob("epoch*.ckpt"))
    # calibration once after training, stored in every checkpoint that holds the final weights
    import torch

    final = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert final["lnta_calibration"]["n"] == 50 and f"at step {final['global_step']}" in final["lnta_calibration"]["source"]
    for path in (run / "checkpoints").glob("epoch*.ckpt"):
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert ("lnta_calibration" in state) == (state["global_step"] == final["global_step"]), path.name
    assert metrics["calibrated"]["normal_psnr_mean"] == final["lnta_calibration"]["mean"]


@pytest.mark.parametrize("precision, inference_compile", [("exact", "false"), ("fast", "false"), ("fast", "true")])
def test_eval_reproduces_train_metrics(tmp_path, tiny, precision, inference_compile):
    """lnta.eval re-tests a checkpoint in the precision it was trained with (on a native-bf16 CPU an
    exact run must not be re-tested in bf16) and with its inference_compile (a frozen graph's
    numerics differ from eager by float reassociation), records both, and reproduces the
    end-of-training AUC."""
    run_cli("lnta.train", *tiny, f"precision={precision}", f"inference_compile={inference_compile}")
    run = tmp_path / "run"
    ckpt = run / "checkpoints" / "last.ckpt"
    run_cli("lnta.eval", f"ckpt_path={ckpt}", f"hydra.run.dir={tmp_path / 'eval'}",
            "trainer.enable_progress_bar=false")
    trained = json.loads((run / "metrics.json").read_text())
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert evaluated["auc_micro"] == pytest.approx(trained["auc_micro"], abs=1e-9)
    assert evaluated["n_frames_scored"] == trained["n_frames_scored"]
    assert evaluated["precision"] == trained["precision"] == precision
    assert evaluated["trainer_precision"] == trained["trainer_precision"]
    compiled = inference_compile == "true" and inductor_compiles()
    assert evaluated["inference_compiled"] is trained["inference_compiled"] is compiled


def test_eval_scores_the_frame_the_labels_describe_with_another_scored_frame(tmp_path, tiny):
    """data.center has one owner: a run trained and tested with frame 7 of each clip scored is re-tested by
    lnta.eval on the same frames, each PSNR the one of the frame its label describes (issue 22)."""
    run_cli("lnta.train", *tiny, "+data.center=7", "precision=exact")
    run = tmp_path / "run"
    run_cli("lnta.eval", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", f"hydra.run.dir={tmp_path / 'eval'}",
            "trainer.enable_progress_bar=false")
    trained, evaluated = _read_scores(run / "scores.csv"), _read_scores(tmp_path / "eval" / "scores.csv")
    assert [(r["video"], r["frame"]) for r in trained][:2] == [("01", "7"), ("01", "8")]  # clip 0 scores frame 7
    assert [(r["video"], r["frame"], r["label"]) for r in evaluated] == [(r["video"], r["frame"], r["label"])
                                                                        for r in trained]
    assert [float(r["psnr"]) for r in evaluated] == pytest.approx([float(r["psnr"]) for r in trained], abs=1e-5)


def test_eval_of_a_run_folder_tests_each_epoch_with_its_own_weights_when_compiled(tmp_path, tiny):
    """A frozen graph holds its weights as constants: testing epoch after epoch in one process must
    give each checkpoint's own numbers, the ones a process testing that checkpoint alone gives."""
    run_cli("lnta.train", *tiny, "trainer.max_epochs=2", "trainer.max_steps=-1", "inference_compile=true")
    run = tmp_path / "run"
    run_cli("lnta.eval", f"ckpt_path={run}", f"hydra.run.dir={tmp_path / 'all'}", "trainer.enable_progress_bar=false")
    psnr = {}
    for ckpt in sorted((run / "checkpoints").glob("epoch*.ckpt")):
        together = json.loads((tmp_path / "all" / ckpt.stem / "metrics.json").read_text())
        run_cli("lnta.eval", f"ckpt_path={ckpt}", f"hydra.run.dir={tmp_path / ckpt.stem}",
                "trainer.enable_progress_bar=false")
        alone = json.loads((tmp_path / ckpt.stem / "metrics.json").read_text())
        assert together["inference_compiled"] is alone["inference_compiled"] is inductor_compiles()
        assert together["auc_micro"] == pytest.approx(alone["auc_micro"], abs=1e-9)
        psnr[ckpt.stem] = [r["psnr"] for r in _read_scores(tmp_path / "all" / ckpt.stem / "scores.csv")]
        assert psnr[ckpt.stem] == [r["psnr"] for r in _read_scores(tmp_path / ckpt.stem / "scores.csv")]
    assert list(psnr) == ["epoch000", "epoch001"]
    assert psnr["epoch000"] != psnr["epoch001"]  # the weights differ, so a stale graph would show


def test_trainer_precision_and_false_alarm_rate_take_effect(tmp_path, tiny):
    """An explicit trainer.precision wins over the precision knob (no longer silently overwritten)
    and is recorded; false_alarm_rate sets the calibrated score's threshold rate."""
    result = run_cli("lnta.train", *tiny, "precision=exact", "trainer.precision=bf16-mixed", "evaluation.false_alarm_rate=0.2")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert (metrics["precision"], metrics["trainer_precision"]) == ("exact", "bf16-mixed")
    assert "bf16" in (result.stdout + result.stderr).lower()  # Lightning ran with bf16 autocast
    assert metrics["calibrated"]["target_false_alarm_rate"] == 0.2
