"""Faults of issue 13 through the real CLI: diverged weights, concurrent runs, full disks, bad
checkpoints, kill-and-resume curves, atomic score outputs, undefined AUCs, threshold calibration."""
import csv
import json
import math
import os
import shutil
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from lnta.data.synthetic import SyntheticSpec, generate
from tests.conftest import REPO, cli_env, one_error, run_cli, tiny_overrides

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One finished tiny run (2 steps), shared by the tests that only read it."""
    tmp = tmp_path_factory.mktemp("trained")
    run_cli("lnta.train", *tiny_overrides(tmp, tmp / "run"))
    return tmp


# --- 2 + 22: diverged weights -------------------------------------------------------------------

# optimizer.lr=inf is refused by the range check (lnta.validate.RANGES); 1e10 makes the weights explode
# (caught by max_abs) and, a few steps on, BatchNorm's running variance overflow (caught as non-finite)
DIVERGED = {
    "exploded weights": (["trainer.max_steps=1"], "step 1", "'model.encoder.0.weight' exceeds max_abs=1e+06"),
    "non-finite BatchNorm buffer": (["trainer.max_steps=3", "callbacks.finite_weights.max_abs=null"], "step 3",
                                    "running_var' is not finite"),
}


@pytest.mark.parametrize("case", list(DIVERGED))
def test_diverged_weights_stop_training_naming_the_step(tmp_path, case):
    extra, step, expected = DIVERGED[case]
    run = tmp_path / "run"
    result = run_cli("lnta.train", *tiny_overrides(tmp_path, run), "optimizer.lr=1e10", *extra, check=False)
    line = one_error(result)
    assert line.startswith(f"error: {step} (epoch 0, before saving a checkpoint): the weights diverged"), line
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


# --- 5, 6, 21: metrics.json keyed by name, strict JSON, undefined AUCs --------------------------

def _strict_json(path):
    def refuse(name):
        raise AssertionError(f"{path}: bare {name} is not JSON")
    return json.loads(path.read_text(), parse_constant=refuse)


def _data_with_labels(root, second_video_label=None, all_normal=False):
    """Tiny synthetic data whose test labels are edited: video 02 of one class, or every frame normal."""
    generate(root, SyntheticSpec(size=32, train_videos=2, test_videos=2, frames_per_video=40))
    labels = np.load(root / "frame_labels_synthetic.npy")
    if second_video_label is not None:
        labels[:, 40:] = second_video_label
    if all_normal:
        labels[:] = 0
    np.save(root / "frame_labels_synthetic.npy", labels)
    return root


def test_single_class_video_is_null_in_strict_json_keyed_by_name(tmp_path):
    root = _data_with_labels(tmp_path / "synthetic", second_video_label=0)
    run = tmp_path / "run"
    result = run_cli("lnta.train", *tiny_overrides(tmp_path, run))
    metrics = _strict_json(run / "metrics.json")
    assert set(metrics["auc_per_video"]) == {"01", "02"}  # the names of scores.csv, not positions
    assert metrics["auc_per_video"]["02"] is None and metrics["auc_macro_videos"] == 1
    assert metrics["auc_macro"] == metrics["auc_per_video"]["01"]
    assert "1 test video(s) contain one class only (02)" in result.stdout + result.stderr
    assert root.is_dir()


def test_all_normal_test_labels_are_one_line(tmp_path):
    _data_with_labels(tmp_path / "synthetic", all_normal=True)
    run = tmp_path / "run"
    line = one_error(run_cli("lnta.train", *tiny_overrides(tmp_path, run), check=False))
    assert "frame_labels_synthetic.npy: all 50 scored test frames are labelled normal (0)" in line
    assert "AUC is undefined" in line and not (run / "metrics.json").exists()


# --- 7, 16: truthful training curves that survive a resume ---------------------------------------

RESUMABLE = ["trainer.max_steps=-1", "trainer.max_epochs=2", "trainer.limit_train_batches=4",
             "trainer.log_every_n_steps=1", "anomaly=skip", "anomaly.p=0.5", "seed=7"]


def _csv_rows(run):
    with open(run / "csv" / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_pseudo_loss_is_empty_at_steps_without_pseudo_anomalies(tmp_path):
    run = tmp_path / "run"
    run_cli("lnta.train", *tiny_overrides(tmp_path, run), "trainer.max_steps=8", "trainer.log_every_n_steps=1",
            "anomaly=skip", "anomaly.p=0.2")
    train = [r for r in _csv_rows(run) if r["train/loss"]]
    assert len(train) == 8
    none = [r for r in train if float(r["train/pseudo_fraction"]) == 0]
    some = [r for r in train if float(r["train/pseudo_fraction"]) > 0]
    assert none and some  # this seed draws both kinds of batch
    assert all(r["train/loss_pseudo"] == "" for r in none)  # not the stale value of an earlier step
    assert all(r["train/loss_pseudo"] != "" for r in some)


def test_kill_and_resume_keeps_every_curve_row_once(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    run_cli("lnta.train", *tiny_overrides(tmp_path, reference), *RESUMABLE)
    every2 = "callbacks.step_checkpoint.every_n_train_steps=2"  # the kill loses a logged step: it is logged again
    kill = ["+callbacks.kill._target_=tests.helpers.faults.KillAtStep", "+callbacks.kill.step=7"]
    assert run_cli("lnta.train", *tiny_overrides(tmp_path, killed), *RESUMABLE, every2, *kill,
                   check=False).returncode == -9
    assert [r["step"] for r in _csv_rows(killed)] == [str(s) for s in range(7)]
    run_cli("lnta.train", *tiny_overrides(tmp_path, killed), *RESUMABLE, every2)
    assert _csv_rows(killed) == _csv_rows(reference)  # the rows before the kill are kept, none twice
    # a failed re-run in the run dir (here: extended, then its loss turns NaN) keeps the curves too
    before = _csv_rows(killed)
    poison = ["+callbacks.poison._target_=tests.helpers.faults.PoisonAtStep", "+callbacks.poison.step=9"]
    result = run_cli("lnta.train", *tiny_overrides(tmp_path, killed), *RESUMABLE, every2, "trainer.max_epochs=3",
                     *poison, check=False)
    assert "the training loss is nan" in one_error(result)
    assert _csv_rows(killed)[:len(before)] == before


# --- 18, 23: lnta.score writes its outputs as one set; bad settings are refused --------------------

def _outputs(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and not p.relative_to(folder).as_posix().startswith((".hydra", "score.log"))}


def test_score_failure_leaves_the_earlier_complete_set(tmp_path, trained):
    ckpt = trained / "run" / "checkpoints" / "last.ckpt"
    videos = tmp_path / "videos"
    shutil.copytree(trained / "synthetic" / "testing" / "frames", videos / "a")  # frame folders 01, 02
    out = tmp_path / "out"
    common = [f"ckpt_path={ckpt}", "progress=false", f"hydra.run.dir={out}"]
    run_cli("lnta.score", *common, f"input={videos / 'a'}")
    earlier = _outputs(out)
    assert {"scores.csv", "flagged.json", "plots/01.png", "plots/02.png"} <= set(earlier)
    # the second input of the new invocation is not a video: nothing of the earlier set changes
    (videos / "b").mkdir()
    shutil.copytree(videos / "a" / "01", videos / "b" / "01")
    (videos / "b" / "02.avi").write_bytes(b"not a video at all")
    line = one_error(run_cli("lnta.score", *common, f"input={videos / 'b'}", check=False))
    assert line.startswith(f"error: {videos / 'b' / '02.avi'}: ") and "video" in line, line
    assert _outputs(out) == earlier
    assert not [p for p in out.iterdir() if p.name.startswith((".staging", ".old"))]


def test_score_empty_video_is_an_error_not_a_header_only_csv(tmp_path, trained):
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    out = tmp_path / "out"
    line = one_error(run_cli("lnta.score", f"ckpt_path={trained / 'run' / 'checkpoints' / 'last.ckpt'}",
                             f"input={empty}", f"hydra.run.dir={out}", check=False))
    assert str(empty) in line
    assert not (out / "scores.csv").exists() and not (out / "flagged.json").exists()


def test_score_batch_size_zero_is_refused(tmp_path, trained):
    line = one_error(run_cli("lnta.score", f"ckpt_path={trained / 'run' / 'checkpoints' / 'last.ckpt'}",
                             f"input={trained / 'synthetic' / 'testing' / 'frames' / '01'}", "batch_size=0",
                             f"hydra.run.dir={tmp_path / 'out'}", check=False))
    assert line == "error: batch_size=0: expected an integer >= 1"


# --- 3, 23: one run per run dir; .hydra/ of older results kept --------------------------------------

def _popen_cli(module, *overrides):
    env = cli_env()
    return subprocess.Popen([sys.executable, "-m", module, *overrides], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_second_run_in_a_busy_run_dir_is_refused(tmp_path):
    run = tmp_path / "run"
    reached, proceed = tmp_path / "reached", tmp_path / "proceed"
    pause = ["+callbacks.pause._target_=tests.helpers.faults.PauseAtStep", "+callbacks.pause.step=1",
             f"+callbacks.pause.reached={reached}", f"+callbacks.pause.proceed={proceed}"]
    first = _popen_cli("lnta.train", *tiny_overrides(tmp_path, run), *pause)
    try:
        deadline = time.monotonic() + 300
        while not reached.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert reached.exists(), first.communicate()
        config = (run / ".hydra" / "config.yaml").read_bytes()
        second = run_cli("lnta.train", *tiny_overrides(tmp_path, run), "seed=1", check=False)
        line = one_error(second)
        assert line.startswith(f"error: hydra.run.dir={run}: in use by another lnta run (pid {first.pid} on ")
        assert (run / ".hydra" / "config.yaml").read_bytes() == config  # the refused run changed nothing
    finally:
        proceed.touch()
        out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-3000:]
    assert (run / "metrics.json").is_file() and not (run / ".lnta.lock").exists()


def test_lock_of_a_killed_run_is_taken_over_and_auto_resume_works(tmp_path):
    run = tmp_path / "run"
    resumable = ["trainer.max_steps=4", "callbacks.step_checkpoint.every_n_train_steps=1"]
    kill = ["+callbacks.kill._target_=tests.helpers.faults.KillAtStep", "+callbacks.kill.step=2"]
    assert run_cli("lnta.train", *tiny_overrides(tmp_path, run), *resumable, *kill, check=False).returncode == -9
    assert (run / ".lnta.lock").is_file()  # SIGKILL: no cleanup ran
    result = run_cli("lnta.train", *tiny_overrides(tmp_path, run), *resumable)
    assert "taking over the lock of pid" in result.stdout + result.stderr
    assert "resuming from" in result.stdout + result.stderr
    assert json.loads((run / "metrics.json").read_text())["global_step"] == 4
    assert not (run / ".lnta.lock").exists()


def test_failed_invocation_keeps_the_older_hydra_config(tmp_path, trained):
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    before = {p.name: p.read_bytes() for p in (run / ".hydra").iterdir()}
    result = run_cli("lnta.train", *tiny_overrides(trained, run), "anomaly=patch", "anomaly.p=1.5", check=False)
    assert "anomaly.p=1.5" in one_error(result)
    assert {p.name: p.read_bytes() for p in (run / ".hydra").iterdir()} == before
    # a successful invocation replaces it (here: re-testing the finished run with another test batch size;
    # a changed training setting such as the seed is refused, test_resume_refuses_changed_training_settings)
    run_cli("lnta.train", *tiny_overrides(trained, run), "data.eval_batch_size=3")
    assert "eval_batch_size: 3" in (run / ".hydra" / "config.yaml").read_text()


# --- 11: a full disk while a checkpoint is written ------------------------------------------------

def test_full_disk_during_checkpoint_is_one_line_and_keeps_the_previous_last_ckpt(tmp_path):
    run = tmp_path / "run"
    full = ["+callbacks.full._target_=tests.helpers.faults.DiskFullAtStep", "+callbacks.full.step=2"]
    result = run_cli("lnta.train", *tiny_overrides(tmp_path, run), "trainer.max_steps=4",
                     "callbacks.step_checkpoint.every_n_train_steps=1", *full, check=False)
    last = run / "checkpoints" / "last.ckpt"
    assert one_error(result).startswith(f"error: {last}: no space left on device")
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 2  # the step before
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.ckpt"]  # no temporary file left


def test_outputs_respect_the_umask(tmp_path, trained):
    out = tmp_path / "out"
    old = os.umask(0o022)  # the child inherits it
    try:
        run_cli("lnta.score", f"ckpt_path={trained / 'run' / 'checkpoints' / 'last.ckpt'}", "progress=false",
                f"input={trained / 'synthetic' / 'testing' / 'frames' / '01'}", f"hydra.run.dir={out}")
    finally:
        os.umask(old)
    modes = {p: stat.S_IMODE((out / p).stat().st_mode) for p in ("scores.csv", "flagged.json", "plots/01.png",
                                                                  "plots", ".hydra/config.yaml")}
    assert modes == {"scores.csv": 0o644, "flagged.json": 0o644, "plots/01.png": 0o644, "plots": 0o755,
                     ".hydra/config.yaml": 0o644}


# --- 17: a bad last.ckpt on auto-resume ------------------------------------------------------------

def _snapshot(run):
    return {p.relative_to(run).as_posix(): p.read_bytes() for p in run.rglob("*") if p.is_file() and p.suffix != ".log"}


def _truncate(last):
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])


def _empty(last):
    last.write_bytes(b"")


BAD_LAST = {  # name: (how to break last.ckpt, extra overrides, what the error line must say after the path)
    "truncated": (_truncate, [], "not a readable lnta checkpoint"),
    "empty": (_empty, [], "not a readable lnta checkpoint"),
    "width mismatch": (None, ["model.width=0.25"], "model.width=0.25 but the run was trained with model.width=0.125"),
    # issue 23 item 5: a changed training setting is refused, not silently ignored (the lr) or mixed in (data)
    "lr changed": (None, ["optimizer.lr=0.01"], "optimizer.lr=0.01 but the run was trained with optimizer.lr=0.0001"),
    "data changed": (None, ["+data.center=7"], "data.center=7 but the run was trained with data.center=<unset>"),
    "anomaly changed": (None, ["anomaly=skip"], "anomaly._target_=lnta.anomaly.SkipFrame but the run was trained "
                                                "with anomaly._target_=<unset>"),
}


@pytest.mark.parametrize("case", list(BAD_LAST))
def test_bad_last_ckpt_on_auto_resume_is_one_line_and_the_run_dir_is_untouched(tmp_path, trained, case):
    breaker, extra, expected = BAD_LAST[case]
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    last = run / "checkpoints" / "last.ckpt"
    if breaker:
        breaker(last)
    before = _snapshot(run)
    assert "csv/metrics.csv" in before
    line = one_error(run_cli("lnta.train", *tiny_overrides(trained, run), *extra, check=False))
    assert line.startswith(f"error: ckpt_path={last}: ") and expected in line, line
    assert _snapshot(run) == before  # curves, config, results: nothing rewritten or deleted


# --- 13: extending a run that max_steps stopped mid-epoch; one epoch and step everywhere -----------

def test_extending_a_max_steps_run_cut_mid_epoch_is_refused(tmp_path, trained):
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    before = _snapshot(run)
    line = one_error(run_cli("lnta.train", *tiny_overrides(trained, run), "trainer.max_steps=4", check=False))
    assert line.startswith(f"error: ckpt_path={run / 'checkpoints' / 'last.ckpt'}: trainer.max_steps=2 stopped "
                           "that run 8 clips into epoch 0"), line
    assert _snapshot(run) == before


def test_eval_records_the_epoch_and_step_that_training_recorded(tmp_path, trained):
    trained_metrics = json.loads((trained / "run" / "metrics.json").read_text())
    for ckpt in ("last.ckpt", "epoch000.ckpt"):
        out = tmp_path / ckpt
        run_cli("lnta.eval", f"ckpt_path={trained / 'run' / 'checkpoints' / ckpt}", f"hydra.run.dir={out}")
        metrics = json.loads((out / "metrics.json").read_text())
        assert (metrics["epoch"], metrics["global_step"]) == (trained_metrics["epoch"], trained_metrics["global_step"])
    assert (trained_metrics["epoch"], trained_metrics["global_step"]) == (0, 2)


# --- 15: re-calibrating the threshold on held-out normal footage ------------------------------------

def test_calibrate_on_held_out_footage_and_score_says_how_the_threshold_was_set(tmp_path, trained):
    ckpt = trained / "run" / "checkpoints" / "last.ckpt"
    training = trained / "synthetic" / "training" / "frames"  # normal frame folders 01, 02 (40 frames each)
    # footage inside the checkpoint's training folder is named as such, never as held out
    inside = run_cli("lnta.calibrate", f"ckpt_path={ckpt}", f"input={training}", f"out={tmp_path / 'inside.ckpt'}",
                     "progress=false", f"hydra.run.dir={tmp_path / 'cal_inside'}")
    assert "lies in the checkpoint's training folder" in inside.stdout + inside.stderr
    assert "[lnta.calibrate]" in inside.stdout + inside.stderr  # its lines under its own command's name
    assert not torch.load(tmp_path / "inside.ckpt", map_location="cpu", weights_only=True)["lnta_calibration"]["held_out"]
    normal = shutil.copytree(training, tmp_path / "footage")  # the same frames as footage from elsewhere
    new = tmp_path / "held_out.ckpt"
    result = run_cli("lnta.calibrate", f"ckpt_path={ckpt}", f"input={normal}", f"out={new}", "progress=false",
                     f"hydra.run.dir={tmp_path / 'cal'}")
    assert "the previous threshold (" in result.stdout + result.stderr
    assert "training folder" not in result.stdout + result.stderr
    stats = torch.load(new, map_location="cpu", weights_only=True)["lnta_calibration"]
    assert stats["held_out"] and stats["n"] == 2 * (40 - 15) and stats["videos"] == 2
    assert stat.S_IMODE(new.stat().st_mode) & 0o044  # readable as the umask allows, not 0600

    reports = {}
    for name, path in (("training", ckpt), ("held_out", new)):
        out = tmp_path / name
        log = run_cli("lnta.score", f"ckpt_path={path}", f"input={normal / '01'}", "edges=drop", "progress=false",
                      f"hydra.run.dir={out}")
        reports[name] = (json.loads((out / "flagged.json").read_text()), log.stdout + log.stderr)
    origin, log = reports["held_out"]
    assert origin["threshold_origin"]["calibrated_on"] == "held-out normal footage"
    assert origin["threshold_origin"]["frames"] == 50 and origin["threshold_origin"]["false_alarm_rate"] == 0.01
    assert "on 50 frames of held-out normal footage" in log
    origin, log = reports["training"]
    assert origin["threshold_origin"]["calibrated_on"] == "training clips" and "lnta.calibrate" in log
    # the held-out threshold flags at most the target rate of the footage it was set on (25 frames of video 01)
    assert reports["held_out"][0]["videos"]["01"]["flagged_frames"] <= 1


def test_calibrate_without_usable_frames_is_one_line(tmp_path, trained):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    line = one_error(run_cli("lnta.calibrate", f"ckpt_path={trained / 'run' / 'checkpoints' / 'last.ckpt'}",
                             f"input={empty}", f"hydra.run.dir={tmp_path / 'cal'}", check=False))
    assert str(empty) in line and not (tmp_path / "cal" / "calibrated.ckpt").exists()


# --- issue 23 items 7, 9, 12: a checkpoint's stored values and statistics pass the same rules ------------

CRAFTED = {  # name: (change to the loaded checkpoint, what the error line must say after "ckpt_path=FILE: ")
    "negative std": (lambda c: c["lnta_calibration"].update(std=-1.0), "stored calibration statistics are unusable"),
    "nan mean": (lambda c: c["lnta_calibration"].update(mean=float("nan")), "stored calibration statistics are "
                                                                            "unusable (mean=nan)"),
    "no psnr": (lambda c: c["lnta_calibration"].update(psnr=[]), "stored calibration statistics are unusable"),
    "huge image": (lambda c: c["lnta_config"]["data"].update(image_size=1_000_000),
                   "stored data.image_size=1000000: expected an integer in [1, 2048]"),
    "zero clip": (lambda c: c["lnta_config"]["data"].update(clip_len=0), "stored data.clip_len=0: expected"),
    "partial model": (lambda c: c["lnta_config"]["model"].update(_partial_=True), "stored model._partial_ is refused"),
    "bogus precision": (lambda c: c["lnta_config"].update(precision="bogus"),
                        "stored precision='bogus': expected one of fast, exact"),
}


@pytest.mark.parametrize("command, case", [*(("lnta.eval", case) for case in CRAFTED),
                                           ("lnta.score", "negative std"), ("lnta.score", "huge image")])
def test_crafted_checkpoint_values_are_one_line_naming_the_checkpoint(tmp_path, trained, case, command):
    """Every command loads a checkpoint through the same checks (lnta.trainer.checkpoint.load_checkpoint):
    each case through lnta.eval, two through lnta.score."""
    change, expected = CRAFTED[case]
    checkpoint = torch.load(trained / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint.get("lnta_calibration"), "the tiny run stores calibration statistics"
    change(checkpoint)
    ckpt = tmp_path / "crafted.ckpt"
    torch.save(checkpoint, ckpt)
    extra = [f"input={trained / 'synthetic' / 'testing' / 'frames' / '01'}"] if command == "lnta.score" else []
    line = one_error(run_cli(command, f"ckpt_path={ckpt}", *extra, f"hydra.run.dir={tmp_path / 'out'}", check=False))
    assert line.startswith(f"error: ckpt_path={ckpt}: {expected}"), line
