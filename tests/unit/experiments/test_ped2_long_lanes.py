"""The long Ped2 study's lanes (experiments/ped2_long/run.py): a run recorded to its last epoch in git is
done for good, since checkpoints do not survive a session."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO
from tests.helpers.scripts import load_script

RUN = REPO / "experiments" / "ped2_long" / "run.py"


def _record(recorded, method, seed, epochs):
    for epoch in epochs:
        path = recorded / method / f"seed{seed}" / "epochs" / f"epoch{epoch:03d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")


def test_recorded_epochs_count_from_zero_without_a_gap(tmp_path):
    run = load_script(RUN, "ped2_long_run")
    _record(tmp_path, "skip", 1, [0, 1, 3])
    assert run.recorded_epochs(tmp_path, "skip", 1) == 2  # epoch 2 is missing: 3 does not count
    assert run.recorded_epochs(tmp_path, "baseline", 1) == 0


def test_a_lane_skips_a_fully_recorded_run_and_starts_the_next(tmp_path):
    _record(tmp_path / "recorded", "baseline", 0, range(3))
    # the second run is recorded to epoch 1 of 3: the lane starts it (and, with no data here, fails at once)
    _record(tmp_path / "recorded", "skip", 1, range(2))
    result = subprocess.run([sys.executable, str(RUN), "lane", "baseline 0", "skip 1", "--epochs", "3",
                             "--recorded", str(tmp_path / "recorded"), "--out", str(tmp_path / "out"),
                             "--data", str(tmp_path / "none"), "--eval-code", "none"],
                            capture_output=True, text=True, timeout=300)
    assert "recorded baseline 0 (3 epochs in" in result.stdout, result.stdout + result.stderr
    assert "start skip 1" in result.stdout and "start baseline 0" not in result.stdout
    assert not (tmp_path / "out" / "baseline").exists()
