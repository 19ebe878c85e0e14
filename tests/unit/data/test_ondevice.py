"""On-device training data: index batches gathered on the device equal the DataLoader's clips exactly."""
import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lnta.data import SyntheticDataModule
from lnta.data import datamodule as datamodule_module
from lnta.data.datasets import TrainClips
from lnta.data.ondevice import DeviceFrames, TrainIndices, fits_on
from lnta.data.sampling import SkipPairs
from lnta.data.io.store import FrameStore
from tests.conftest import run_cli


def _store(lengths=(40, 20, 17), size=8, seed=0) -> FrameStore:
    rng = np.random.default_rng(seed)
    return FrameStore([f"{i:02d}" for i in range(len(lengths))], list(lengths),
                      rng.integers(0, 256, (sum(lengths), size, size), dtype=np.uint8))


def _epoch(loader, seed, transform=lambda b: b):
    torch.manual_seed(seed)
    return [transform(batch) for batch in loader]


@pytest.mark.parametrize("skips", [None, [2, 3, 4, 5]])
def test_gathered_batches_equal_dataloader_batches(skips):
    # videos of 20 and 17 frames force the skip rule's re-draws and clamping
    store = _store()
    frames = DeviceFrames(store, "cpu")
    rules = [SkipPairs(skips)] if skips else ()
    host = _epoch(DataLoader(TrainClips(store, 16, rules), batch_size=4, shuffle=True), seed=3)
    device = _epoch(DataLoader(TrainIndices(store, 16, rules), batch_size=4, shuffle=True), seed=3,
                    transform=frames.gather_batch)
    assert len(host) == len(device) == 8  # 25 + 5 + 2 clips
    for a, b in zip(host, device):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key
    if skips:  # video 2 (17 frames) is too short for any skip: re-drawn, then clamped to its last frame
        skip_clips = torch.cat([b["skip_clip"] for b in host])[torch.cat([b["video"] for b in host]) == 2]
        assert len(skip_clips) == 2
        assert (skip_clips[:, 0, -1] == torch.from_numpy(store.frames[-1])).all()


def test_gather_reads_the_right_frames():
    store = _store(lengths=(5, 7), size=2)
    frames = DeviceFrames(store, "cpu")
    clips = frames.gather(torch.tensor([1, 0]), torch.tensor([[0, 6], [4, 4]]))
    assert clips.shape == (2, 1, 2, 2, 2)
    assert torch.equal(clips[0, 0, 1], torch.from_numpy(store.frames[5 + 6]))
    assert torch.equal(clips[1, 0, 0], torch.from_numpy(store.frames[4]))


def test_cpu_always_fits():
    assert fits_on(10**15, "cpu")


def _datamodule(tmp_path, on_device):
    dm = SyntheticDataModule(root=str(tmp_path / "synthetic"), size=16, train_videos=2, test_videos=1,
                             frames_per_video=48, image_size=16, batch_size=2, clip_rules=[SkipPairs([2, 3])],
                             on_device=on_device)
    dm.setup("fit")
    return dm


def test_datamodule_on_device_matches_host_loading(tmp_path):
    host, device = _datamodule(tmp_path, False), _datamodule(tmp_path, True)
    assert device.device_frames is not None and isinstance(device.train_set, TrainIndices)
    a = _epoch(host.train_dataloader(), seed=1)
    b = _epoch(device.train_dataloader(), seed=1, transform=lambda x: device.on_after_batch_transfer(x, 0))
    assert len(a) == len(b) > 0
    for x, y in zip(a, b):
        for key in ("clip", "skip_clip", "skip_target", "video", "start", "skip"):
            assert torch.equal(x[key], y[key]), key


def test_datamodule_falls_back_when_frames_do_not_fit(tmp_path, monkeypatch):
    monkeypatch.setattr(datamodule_module, "fits_on", lambda nbytes, device, fraction=0.5: False)
    dm = _datamodule(tmp_path, True)
    assert dm.device_frames is None and type(dm.train_set) is TrainClips
    batch = next(iter(dm.train_dataloader()))
    assert dm.on_after_batch_transfer(batch, 0) is batch and batch["clip"].dtype == torch.uint8


@pytest.mark.slow
def test_training_with_on_device_data_runs(tmp_path, tiny):
    probe = tmp_path / "train_data.json"
    result = run_cli("lnta.train", "+experiment=synthetic_skip", *tiny, "data.on_device=true", "anomaly.p=0.5",
                     "+callbacks.probe._target_=tests.helpers.probes.TrainData", f"+callbacks.probe.path={probe}")
    assert (tmp_path / "run" / "metrics.json").is_file()
    # the frames were on the device and clips gathered there: a fallback to host loading would show here
    assert json.loads(probe.read_text()) == {"dataset": "TrainIndices", "device_frames": True}
    assert "loading on the host" not in result.stdout + result.stderr
